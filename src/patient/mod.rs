//! Finding a patient's Hero id through `POST /v1/patients/register_pds`:
//! the query ([`PatientQuery`]), its checks, Hero's answer
//! ([`PatientAnswer`]), and the call over the send's transport.

mod answer;
mod checks;
mod lookup;
mod query;

pub use answer::PatientAnswer;
pub use query::PatientQuery;
