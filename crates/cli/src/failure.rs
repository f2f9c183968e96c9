//! Why a command stopped, for every command module: the error's code from the table of
//! `custos_types` (`docs/errors.md`), the message, and whether the command line's own input is to
//! blame. The exit code and the message prefix come from the code: `error[legal-hold]: …` and
//! exit 1 for a refusal, exit 2 for input that cannot be used (a flag, a file, the policy).

use std::fmt::Display;
use std::process::ExitCode;

use custos_access::AccessError;
use custos_audit::AuditError;
use custos_types::{ErrorCode, ErrorKind, InvalidId};
use custos_vault::VaultError;

/// Why a command stopped.
pub(crate) struct Failure {
    /// The error's code in the table.
    code: ErrorCode,
    /// What went wrong and what to do; never personal data.
    message: String,
    /// The command line's own input is to blame: exit 2, whatever the code's kind.
    usage: bool,
    /// The library error, kept so the command can say which of its flags is to blame
    /// ([`Failure::exit_blaming`]).
    error: Option<Box<VaultError>>,
}

/// What a command blames a library error on.
pub(crate) enum Blame {
    /// One of its flags: the message starts with it.
    Flag(&'static str),
    /// Its input, without naming a flag (the message names what is wrong).
    Input,
}

impl Failure {
    /// An error of `code` the command itself found.
    pub(crate) fn new(code: ErrorCode, message: impl Into<String>) -> Failure {
        Failure {
            code,
            message: message.into(),
            usage: false,
            error: None,
        }
    }

    /// A flag, argument or file that cannot be used (exit 2); the message names it.
    pub(crate) fn unusable(message: impl Into<String>) -> Failure {
        Failure::new(ErrorCode::InvalidArgument, message)
    }

    /// A library error the command blames on `flag`: the message starts with the flag, the exit
    /// code is 2.
    pub(crate) fn flag(flag: &str, code: ErrorCode, e: impl Display) -> Failure {
        Failure::new(code, format!("{flag}: {e}")).usage()
    }

    /// The same failure, blamed on the command line's input (exit 2).
    pub(crate) fn usage(mut self) -> Failure {
        self.usage = true;
        self
    }

    /// The message, for a command that rewords it.
    pub(crate) fn message(&self) -> &str {
        &self.message
    }

    /// The same failure with another message.
    pub(crate) fn with_message(mut self, message: impl Into<String>) -> Failure {
        self.message = message.into();
        self
    }

    /// The exit code: 2 for unusable input, else from the code's kind.
    fn exit_code(&self) -> u8 {
        if self.usage {
            ErrorKind::Usage.exit_code()
        } else {
            self.code.exit_code()
        }
    }

    /// The exit code of a command's result, its message on standard error (`error[<code>]: …`).
    pub(crate) fn exit(r: Result<(), Failure>) -> ExitCode {
        match r {
            Ok(()) => ExitCode::SUCCESS,
            Err(f) => {
                eprintln!("error[{}]: {}", f.code, f.message);
                ExitCode::from(f.exit_code())
            }
        }
    }

    /// Stops the command with this failure: [`Failure::exit`] of it.
    pub(crate) fn stop(self) -> ExitCode {
        Failure::exit(Err(self))
    }

    /// As [`Failure::exit`], after `blame` said which library errors are the command line's
    /// fault: those name the flag and exit 2.
    pub(crate) fn exit_blaming(
        r: Result<(), Failure>,
        blame: impl Fn(&VaultError) -> Option<Blame>,
    ) -> ExitCode {
        Failure::exit(r.map_err(|f| {
            let Some(e) = f.error.as_deref() else {
                return f;
            };
            match blame(e) {
                Some(Blame::Flag(flag)) => Failure::flag(flag, f.code, e),
                Some(Blame::Input) => f.usage(),
                None => f,
            }
        }))
    }
}

impl From<VaultError> for Failure {
    fn from(e: VaultError) -> Failure {
        Failure {
            code: e.code(),
            message: e.to_string(),
            usage: false,
            error: Some(Box::new(e)),
        }
    }
}

impl From<custos_vault::rights::RequestError> for Failure {
    fn from(e: custos_vault::rights::RequestError) -> Failure {
        VaultError::from(e).into()
    }
}

impl From<AccessError> for Failure {
    fn from(e: AccessError) -> Failure {
        Failure::new(e.code(), e.to_string())
    }
}

impl From<AuditError> for Failure {
    fn from(e: AuditError) -> Failure {
        Failure::new(e.code(), e.to_string())
    }
}

impl From<InvalidId> for Failure {
    fn from(e: InvalidId) -> Failure {
        Failure::new(e.code(), e.to_string())
    }
}

impl From<custos_vault::connect::ConnectorError> for Failure {
    fn from(e: custos_vault::connect::ConnectorError) -> Failure {
        Failure::new(e.code(), e.to_string())
    }
}

/// Prints `value` as pretty JSON on standard output.
pub(crate) fn json<T: serde::Serialize>(value: &T) -> Result<(), Failure> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| Failure::new(ErrorCode::Internal, format!("encoding the result: {e}")))?;
    println!("{text}");
    Ok(())
}

/// The code of a failed answer file: the library's own where it failed, else a file error.
pub(crate) fn answer_code(e: &anyhow::Error) -> ErrorCode {
    if let Some(v) = e.downcast_ref::<VaultError>() {
        v.code()
    } else if let Some(x) = e.downcast_ref::<custos_rights::access::ExportError>() {
        x.code()
    } else {
        ErrorCode::FileError
    }
}

#[cfg(test)]
mod tests {
    use custos_types::ErrorCode;
    use custos_vault::VaultError;

    use super::{Blame, Failure};

    fn held() -> VaultError {
        VaultError::Held {
            hold_id: "0123456789abcdef".into(),
            scope: "subject".into(),
        }
    }

    #[test]
    fn a_refusal_exits_1_with_its_code() {
        let f = Failure::from(held());
        assert_eq!((f.code, f.exit_code()), (ErrorCode::LegalHold, 1));
    }

    #[test]
    fn input_the_command_blames_exits_2_and_names_the_flag() {
        assert_eq!(Failure::unusable("--tenant: empty").exit_code(), 2);
        let f = Failure::flag("--at", ErrorCode::InFuture, "too late");
        assert_eq!((f.message(), f.exit_code()), ("--at: too late", 2));
        let blamed = |_: &VaultError| Some(Blame::Flag("--subject"));
        let code = Failure::exit_blaming(Err(Failure::from(held())), blamed);
        assert_eq!(code, std::process::ExitCode::from(2));
    }
}
