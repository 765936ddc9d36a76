//! Chip drivers, one module per chip. Each is generic over the embedded-hal 1.0 traits (or a
//! small serial trait), names its registers, and knows nothing of boards, the engine or MQTT.
