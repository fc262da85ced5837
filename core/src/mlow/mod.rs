//! MLow ("smpl"), Meta's CELP speech codec carried in WhatsApp calls.
pub mod analysis;
