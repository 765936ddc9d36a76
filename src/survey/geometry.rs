//! TEMPORARY stand-in (replaced by the full module).
use super::Quadrupole;
pub type Position = [f64; 3];
#[derive(Debug, Clone, PartialEq)]
pub struct Geometry { positions: Vec<Position> }
impl Geometry {
    pub fn line(nelec: u16, spacing: f64) -> Self { Self { positions: (0..nelec).map(|i| [f64::from(i) * spacing, 0.0, 0.0]).collect() } }
    pub fn from_positions(positions: Vec<Position>) -> Self { Self { positions } }
    pub fn position(&self, e: u16) -> Option<Position> { self.positions.get(usize::from(e).checked_sub(1)?).copied() }
    pub fn nelec(&self) -> usize { self.positions.len() }
    pub fn k(&self, q: &Quadrupole) -> Option<f64> { geometric_factor(self.position(q.a), self.position(q.b), self.position(q.m), self.position(q.n)) }
}
fn inv(p: Option<Position>, q: Option<Position>) -> f64 {
    match (p, q) { (Some(p), Some(q)) => { let r = ((p[0]-q[0]).powi(2)+(p[1]-q[1]).powi(2)+(p[2]-q[2]).powi(2)).sqrt(); let ri = ((p[0]-q[0]).powi(2)+(p[1]-q[1]).powi(2)+(p[2]+q[2]).powi(2)).sqrt(); 1.0/r + 1.0/ri } _ => 0.0 }
}
pub fn geometric_factor(a: Option<Position>, b: Option<Position>, m: Option<Position>, n: Option<Position>) -> Option<f64> {
    let g = inv(a, m) - inv(b, m) - inv(a, n) + inv(b, n);
    let k = 4.0 * std::f64::consts::PI / g;
    (g.abs() > 1e-12 && k.is_finite()).then_some(k)
}
