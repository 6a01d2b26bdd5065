use clap::Parser;
use junction::config::{Cli, Command};
use junction::startup::Application;

#[actix_web::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    junction::telemetry::init(cli.config.log_format);
    let outcome = match cli.command {
        Some(Command::Agent(args)) => return junction::agent::run(args).await,
        Some(Command::User(command)) => Some(
            junction::cli::run_user_command(&cli.config, command, junction::cli::read_password)
                .await,
        ),
        Some(Command::Secrets(command)) => {
            Some(junction::cli::run_secrets_command(&cli.config, command).await)
        }
        Some(Command::Connections(command)) => Some(
            junction::cli::run_connections_command(
                &cli.config,
                command,
                junction::cli::read_passphrase,
            )
            .await,
        ),
        None => None,
    };
    if let Some(outcome) = outcome {
        return match outcome {
            Ok(message) => {
                println!("{message}");
                std::process::ExitCode::SUCCESS
            }
            Err(error) => {
                eprintln!("junction: {error:#}");
                std::process::ExitCode::FAILURE
            }
        };
    }
    let application = match Application::build(cli.config).await {
        Ok(application) => application,
        Err(error) => {
            // One clear sentence (with its causes) instead of a panic or a debug dump.
            eprintln!("junction: {error:#}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match application.run_until_stopped().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("junction: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}
