//! herohealth: send patient messages through Hero Health's Public API.

mod checks;
