// Request handling allocates many small, short-lived objects across worker threads;
// mimalloc serves that pattern faster than the system allocator.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    crm_odata::cli::run()
}
