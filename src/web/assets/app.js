// The dashboard's script.
"use strict";
