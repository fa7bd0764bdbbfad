//! libpq's TLS library (OpenSSL) frees its process-wide state from an `atexit` handler.
//! That races with threads that free their own OpenSSL state as the process exits (a
//! blocking-pool thread, a pool's connection thread), and the race ends in a "double
//! free" abort after an otherwise clean shutdown. Initialising OpenSSL without the
//! handler, before libpq first does, leaves that memory to the operating system, as
//! curl does.

/// `OPENSSL_INIT_NO_ATEXIT` from `openssl/crypto.h` (OpenSSL 1.1.1 and later).
const OPENSSL_INIT_NO_ATEXIT: u64 = 0x0008_0000;

type InitCrypto = unsafe extern "C" fn(u64, *const std::ffi::c_void) -> std::ffi::c_int;

/// Runs once per process, before the first PostgreSQL connection and before a Redis
/// client (whose `rediss://` uses OpenSSL) exists. Does nothing when no OpenSSL is loaded.
pub fn init_without_exit_handler() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // SAFETY: looks a symbol up by name in the libraries already loaded (libpq brings
        // libcrypto); a null result means there is none.
        let sym = unsafe { libc::dlsym(libc::RTLD_DEFAULT, c"OPENSSL_init_crypto".as_ptr()) };
        if sym.is_null() {
            return;
        }
        // SAFETY: `int OPENSSL_init_crypto(uint64_t opts, const OPENSSL_INIT_SETTINGS *)`,
        // called with a flag it defines and no settings, which it accepts.
        let ok = unsafe {
            let init = std::mem::transmute::<*mut libc::c_void, InitCrypto>(sym);
            init(OPENSSL_INIT_NO_ATEXIT, std::ptr::null())
        };
        if ok != 1 {
            tracing::warn!("OpenSSL initialisation failed; libpq will initialise it itself");
        }
    });
}
