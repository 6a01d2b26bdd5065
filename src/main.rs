use clap::Parser;
use junction::config::Config;
use junction::startup::Application;

#[actix_web::main]
async fn main() -> std::process::ExitCode {
    let config = Config::parse();
    junction::telemetry::init();
    let application = match Application::build(config).await {
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
