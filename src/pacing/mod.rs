//! Pacing: when a request may go, and how much of the link it may take. Each host's health (its
//! back-off, probes and throttle: [`host_health`]), a host's link window and the deadlines of a block
//! sent over it ([`link_window`], from the goodput [`send_rate`] measures), and the title's bandwidth
//! limit ([`bandwidth`]). The engine asks this layer for leave and reports each request's outcome to
//! it; it knows nothing of uploads or operations, and uses only the transport's outcome and deadline
//! types and the back-off policy.

pub mod backoff;
pub mod bandwidth;
pub mod host_health;
pub mod link_window;
pub mod send_rate;
