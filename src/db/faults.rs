//! Which database errors mean "the database is unavailable" (answered with 503 and a retry),
//! as opposed to a bug in a query (500).

use diesel::result::{DatabaseErrorKind, Error};

/// Messages PostgreSQL sends when it is going away, starting up, out of slots, or stopped a
/// statement for taking too long. diesel-async hands on neither the SQLSTATE nor the error type,
/// only these texts (PostgreSQL's own English ones, the default `lc_messages`).
const UNAVAILABLE_MESSAGES: &[&str] = &[
    // 57014 query_canceled: statement_timeout, or a cancel request.
    "canceling statement due to statement timeout",
    "canceling statement due to user request",
    "canceling statement due to lock timeout",
    // 57P01 admin_shutdown, 57P02 crash_shutdown, 57P03 cannot_connect_now.
    "terminating connection due to administrator command",
    "terminating connection because of crash of another server process",
    "the database system is shutting down",
    "the database system is starting up",
    "the database system is in recovery mode",
    "the database system is not yet accepting connections",
    // 53300 too_many_connections.
    "sorry, too many clients already",
    "remaining connection slots are reserved",
    // 55P03 lock_not_available.
    "could not obtain lock",
];

/// Whether `error` comes from the database being down, stuck or overloaded rather than from
/// the query: the connection broke (or was never there), or the server gave up on the
/// statement for reasons of its own.
pub(crate) fn is_unavailable(error: &Error) -> bool {
    match error {
        // Anything the driver could not send or got no answer to: the socket is gone.
        Error::DatabaseError(
            DatabaseErrorKind::UnableToSendCommand
            | DatabaseErrorKind::ClosedConnection
            // After a failover onto a replica, or a serialization conflict: try again.
            | DatabaseErrorKind::ReadOnlyTransaction
            | DatabaseErrorKind::SerializationFailure,
            _,
        ) => true,
        Error::DatabaseError(DatabaseErrorKind::Unknown, info) => {
            let message = info.message();
            UNAVAILABLE_MESSAGES
                .iter()
                .any(|known| message.starts_with(known))
        }
        // The connection broke inside a transaction and could not even roll back.
        Error::BrokenTransactionManager => true,
        Error::RollbackErrorOnCommit { commit_error, .. } => is_unavailable(commit_error),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn database(kind: DatabaseErrorKind, message: &str) -> Error {
        Error::DatabaseError(kind, Box::new(message.to_string()))
    }

    #[test]
    fn connection_faults_are_unavailable_and_query_mistakes_are_not() {
        let cases = [
            (
                database(DatabaseErrorKind::UnableToSendCommand, "connection closed"),
                true,
                "a closed socket",
            ),
            (
                database(
                    DatabaseErrorKind::Unknown,
                    "terminating connection due to administrator command",
                ),
                true,
                "the server shutting down",
            ),
            (
                database(
                    DatabaseErrorKind::Unknown,
                    "canceling statement due to statement timeout",
                ),
                true,
                "statement_timeout",
            ),
            (
                database(
                    DatabaseErrorKind::Unknown,
                    "sorry, too many clients already",
                ),
                true,
                "out of connection slots",
            ),
            (
                database(
                    DatabaseErrorKind::Unknown,
                    "relation \"the database system is shutting down\" does not exist",
                ),
                false,
                "only a known message at the start counts",
            ),
            (
                database(
                    DatabaseErrorKind::Unknown,
                    "syntax error at or near \"SELEC\"",
                ),
                false,
                "a bug in a query",
            ),
            (
                database(DatabaseErrorKind::UniqueViolation, "duplicate key"),
                false,
                "a constraint",
            ),
            (Error::NotFound, false, "no row"),
            (
                Error::BrokenTransactionManager,
                true,
                "a broken transaction",
            ),
        ];
        for (error, expected, case) in cases {
            assert_eq!(is_unavailable(&error), expected, "{case}");
        }
    }
}
