fn main() -> std::process::ExitCode {
    crm_odata::cli::run()
}
