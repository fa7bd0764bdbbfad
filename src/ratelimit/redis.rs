//! The shared limiter: one sorted set per workspace in Redis, updated by one Lua script.

use foldhash::{HashMap, HashMapExt};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::ThreadId;
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{Client, RedisError, Script};

use super::lease::{Grant, LeasePolicy, Reserve};
use super::{Decision, RateLimitConfig, RedisOptions};

/// For each workspace's key: trim, count and admit up to `n` requests, atomically; with
/// room to spare, also reserve a block of `k` admissions for this instance (see `lease`).
/// One call serves every workspace with requests waiting on this instance, so Redis's
/// cost per call (a script run, a read and a write) is shared by all of them.
///
/// Scores are microseconds from the Redis server's `TIME`, so instances with
/// skewed clocks still agree on the window. Denied requests are not added, so a
/// retrying client gets in as soon as the window slides. A key expires at most a window,
/// a block's hold and `refresh` after its last admission: an idle workspace costs
/// nothing. Its expiry is set when the instance asks (`e` = 1, every `refresh / 2`) and
/// whenever the key was empty (a new key has none).
/// A block is granted only while a quarter of the limit stays free after it; its
/// members are scored `hold` ahead, as they may be handed out up to `hold` later.
/// ARGV: limit, window (µs), hold (µs), key lifetime past the window (µs), then per
/// key: n, k, e and n + k unique members.
/// Returns now, then per key: admitted, count before admitting, oldest score, reserved;
/// as one string of big-endian doubles (all integers below 2^53, so exact): the client
/// reads it at once, where an array of integers cost it a parse per element (a third
/// of what the Redis limiter adds to a request with many workspaces).
const SCRIPT: &str = r"
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local hold = tonumber(ARGV[3])
local ttl = math.ceil((window + tonumber(ARGV[4])) / 1000)
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local out = {struct.pack('>d', now)}
local a = 5
for i, key in ipairs(KEYS) do
  local n = tonumber(ARGV[a])
  local k = tonumber(ARGV[a + 1])
  local refresh = ARGV[a + 2] == '1'
  a = a + 3
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
  local count = redis.call('ZCARD', key)
  local admitted = math.max(0, math.min(n, limit - count))
  local reserved = 0
  if k > 0 and count + admitted + k <= limit - math.floor(limit / 4) then
    reserved = k
  end
  if admitted == 1 and reserved == 0 then
    redis.call('ZADD', key, now, ARGV[a])
  elseif admitted + reserved > 0 then
    local args = {}
    for j = 1, admitted do
      args[2 * j - 1] = now
      args[2 * j] = ARGV[a + j - 1]
    end
    for j = 1, reserved do
      args[2 * (admitted + j) - 1] = now + hold
      args[2 * (admitted + j)] = ARGV[a + n + j - 1]
    end
    redis.call('ZADD', key, unpack(args))
  end
  -- An empty log may be a new key, which has no expiry yet.
  if refresh or (count == 0 and admitted + reserved > 0) then
    redis.call('PEXPIRE', key, ttl)
  end
  a = a + n + k
  local oldest = now
  local first = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
  if first[2] then oldest = tonumber(first[2]) end
  out[#out + 1] = struct.pack('>dddd', admitted, count, oldest, reserved)
end
return table.concat(out)
";

/// Adds requests admitted elsewhere (in-process, during an outage) to the log, each
/// dated `age` microseconds before the Redis server's `TIME`; those already out of the
/// window are skipped. The key then lives as long as `SCRIPT` makes it live, which
/// instances that set its expiry a moment ago count on. ARGV: window (µs), key lifetime
/// past the window (µs), then pairs of age (µs) and unique member.
/// Returns how many were added.
const REPLAY: &str = r"
local key = KEYS[1]
local window = tonumber(ARGV[1])
local ttl = math.ceil((window + tonumber(ARGV[2])) / 1000)
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local args = {}
local n = 0
for i = 3, #ARGV - 1, 2 do
  local score = now - tonumber(ARGV[i])
  if score > now - window then
    n = n + 1
    args[2 * n - 1] = score
    args[2 * n] = ARGV[i + 1]
  end
end
if n > 0 then
  redis.call('ZADD', key, unpack(args))
  if redis.call('PTTL', key) < ttl then
    redis.call('PEXPIRE', key, ttl)
  end
end
return n
";

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// The script's reply: big-endian doubles, each a whole number; `None` if it is not.
fn unpack_integers(bytes: &[u8]) -> Option<Vec<i64>> {
    if !bytes.len().is_multiple_of(8) {
        return None;
    }
    bytes
        .chunks_exact(8)
        .map(|c| {
            let v = f64::from_be_bytes(c.try_into().ok()?);
            // Exact below 2^53, which every count and microsecond score is.
            (v.fract() == 0.0 && v.abs() < 9_007_199_254_740_992.0).then_some(v as i64)
        })
        .collect()
}

/// Why a Redis check did not produce a decision.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("redis did not answer within {0:?}")]
    Timeout(Duration),
    #[error("redis: {0}")]
    Redis(#[from] RedisError),
    #[error("redis returned an unexpected reply: {0}")]
    Reply(String),
    #[error("redis url is invalid: {0}")]
    BadUrl(String),
    /// A lost connection, as passed to every request of a batch.
    #[error("redis: {0}")]
    Dropped(String),
}

impl StoreError {
    /// The connection was lost (the server restarted or closed it), not refused or slow.
    pub fn is_dropped_connection(&self) -> bool {
        match self {
            StoreError::Redis(e) => e.is_connection_dropped(),
            StoreError::Dropped(_) => true,
            _ => false,
        }
    }

    /// A copy for every request of a coalesced batch.
    fn share(&self) -> StoreError {
        match self {
            StoreError::Timeout(d) => StoreError::Timeout(*d),
            e if e.is_dropped_connection() => StoreError::Dropped(e.to_string()),
            other => StoreError::Reply(other.to_string()),
        }
    }
}

/// Workspaces with state kept between requests; past this, idle ones are dropped.
const QUEUE_ENTRIES: usize = 10_000;

/// A request's decision and, when admitted, its member of the log (to take it back).
pub type Admission = (Decision, Option<Member>);
/// One admitted request's member of a workspace's sorted set.
pub type Member = [u8; 12];

type Waiter = oneshot::Sender<Result<Admission, StoreError>>;

/// Requests of one workspace waiting for the next round trip, and its reserved blocks.
#[derive(Default)]
struct Queue {
    waiters: Vec<Waiter>,
    /// Listed in `State::dirty`.
    dirty: bool,
    reserve: Reserve,
    /// When this instance's last round trip for the workspace set its key's expiry.
    /// The key then lives at least `window + extra_ttl + refresh` past that, so calls
    /// within half of `refresh` after it need not set it again: one `PEXPIRE` per
    /// workspace every few seconds, not one a request (a sixth of Redis's time a key).
    expiry_set: Option<Instant>,
}

#[derive(Default)]
struct State {
    queues: HashMap<i64, Queue>,
    /// Workspaces with requests waiting or a block wanted, for the next round trip.
    dirty: Vec<i64>,
    /// The flusher task is running.
    flushing: bool,
}

/// One workspace's part of a round trip: its waiting requests and the block it asks for.
struct Work {
    ws: i64,
    batch: Vec<Waiter>,
    k: u32,
    /// The key's expiry is to be set again (see [`Queue::expiry_set`]).
    refresh: bool,
}

pub struct RedisStore {
    config: RateLimitConfig,
    options: RedisOptions,
    client: Option<Client>,
    /// One multiplexed connection per thread that uses the store. A connection's I/O
    /// runs on the event loop that opened it, so each HTTP worker talking over its own
    /// connection never hands a reply to another thread.
    managers: Mutex<HashMap<ThreadId, ConnectionManager>>,
    bad_url: Option<String>,
    script: Script,
    replay: Script,
    /// Members must be unique per admission; instance + sequence is, without a round trip.
    instance: u64,
    seq: AtomicU64,
    /// Concurrent checks share one round trip (see `check`).
    state: Mutex<State>,
    lease: LeasePolicy,
    /// How much longer than its window a key lives past its last request.
    refresh: Duration,
    blocks: AtomicU64,
}

impl RedisStore {
    /// Never connects eagerly and never fails: a bad URL is reported on every check.
    pub fn new(config: RateLimitConfig, url: &str, options: RedisOptions) -> Self {
        // `rediss://` goes through OpenSSL too; it must not get its exit handler either.
        crate::db::tls::init_without_exit_handler();
        let (client, bad_url) = match Client::open(url) {
            Ok(c) => (Some(c), None),
            Err(e) => (None, Some(e.to_string())),
        };
        Self {
            config,
            options,
            client,
            managers: Mutex::new(HashMap::new()),
            bad_url,
            script: Script::new(SCRIPT),
            replay: Script::new(REPLAY),
            instance: rand::random(),
            seq: AtomicU64::new(0),
            state: Mutex::new(State::default()),
            lease: LeasePolicy::new(config),
            refresh: (config.window / 8).max(Duration::from_secs(1)),
            blocks: AtomicU64::new(0),
        }
    }

    /// This thread's connection, opened lazily on first use.
    fn manager(&self) -> Result<ConnectionManager, StoreError> {
        let Some(client) = &self.client else {
            return Err(StoreError::BadUrl(self.bad_url.clone().unwrap_or_default()));
        };
        let mut managers = self.managers.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(m) = managers.get(&std::thread::current().id()) {
            return Ok(m.clone());
        }
        // No retries inside the manager: during an outage the limiter itself paces
        // the attempts (one per retry interval), and a failed attempt must fail fast.
        let cfg = ConnectionManagerConfig::new()
            .set_number_of_retries(0)
            .set_connection_timeout(Some(self.options.connect_timeout))
            .set_response_timeout(Some(self.options.timeout));
        let m = ConnectionManager::new_lazy_with_config(client.clone(), cfg)?;
        managers.insert(std::thread::current().id(), m.clone());
        Ok(m)
    }

    /// 12 bytes: a 48-bit random instance id and a 48-bit sequence. Kept this
    /// short on purpose: Redis then allocates the member in its 16-byte class,
    /// ~12% less memory per saturated workspace than a 20-character text id.
    fn member(&self) -> Member {
        let seq = self.seq.fetch_add(1, Ordering::Relaxed);
        let mut m = [0u8; 12];
        m[..6].copy_from_slice(&self.instance.to_be_bytes()[2..]);
        m[6..].copy_from_slice(&seq.to_be_bytes()[2..]);
        m
    }

    pub fn key(&self, ws: i64) -> String {
        format!("{}{ws}", self.options.key_prefix)
    }

    /// Free slots in `ws`'s window as this instance's last round trip for it saw them.
    pub fn last_remaining(&self, ws: i64) -> Option<u32> {
        let st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        st.queues.get(&ws)?.reserve.last_remaining()
    }

    /// Checks one request. A member of a block this instance reserved admits it at
    /// once (see `lease`). Otherwise requests that arrive while a round trip is in
    /// flight, of any workspace, are coalesced into the next one: a single script call
    /// admits as many of each workspace's as its window allows, in arrival order. The
    /// decisions stay exact (the script is atomic) while Redis does one call per batch,
    /// not one per request, which is what keeps its cost flat under load. Requests of
    /// every worker thread join the same batch; the call runs on the connection of the
    /// thread whose request started the flusher.
    pub async fn check(self: &Arc<Self>, ws: i64) -> Result<Admission, StoreError> {
        let now = Instant::now();
        let (start_flusher, outcome) = {
            let mut guard = self.state.lock().unwrap_or_else(|p| p.into_inner());
            let st = &mut *guard;
            if st.queues.len() >= QUEUE_ENTRIES && !st.queues.contains_key(&ws) {
                st.queues
                    .retain(|_, q| q.dirty || !q.reserve.is_idle(now, &self.lease));
            }
            let q = st.queues.entry(ws).or_default();
            q.reserve.note_request(now, &self.lease);
            let outcome = match self.admit_from_block(&mut q.reserve, now) {
                Some(admission) => Ok(admission),
                None => {
                    let (tx, rx) = oneshot::channel();
                    q.waiters.push(tx);
                    Err(rx)
                }
            };
            // A waiting request, or the next block asked for before this one runs out.
            let listed = !q.dirty && (outcome.is_err() || q.reserve.wanted(now, &self.lease) > 0);
            q.dirty |= listed;
            if listed {
                st.dirty.push(ws);
            }
            let start = !st.flushing && !st.dirty.is_empty();
            st.flushing |= start;
            (start, outcome)
        };
        if start_flusher {
            let store = Arc::clone(self);
            tokio::spawn(async move { store.flush().await });
        }
        match outcome {
            Ok(reserved) => Ok(reserved),
            // The flusher answers every waiter; a dropped sender means it was cancelled
            // (runtime shutting down), which is an unavailable store, not a panic.
            Err(rx) => rx.await.unwrap_or(Err(StoreError::Reply(
                "rate-limit batch was cancelled".into(),
            ))),
        }
    }

    /// An admission from one of the workspace's live blocks, if it has one.
    fn admit_from_block(&self, reserve: &mut Reserve, now: Instant) -> Option<Admission> {
        let (member, remaining) = reserve.take(now)?;
        let d = self.decision(true, remaining, reserve.reset_after(now));
        Some((d, Some(member)))
    }

    fn decision(&self, allowed: bool, remaining: u32, reset_after: Duration) -> Decision {
        Decision {
            allowed,
            limit: self.config.limit,
            remaining,
            window: self.config.window,
            reset_after,
        }
    }

    /// Sends batches until no request is waiting and no block is wanted.
    async fn flush(self: Arc<Self>) {
        loop {
            // Requests this thread already has in hand may join the batch first: it
            // yields three times, as each turn of its event loop can read more of them
            // (requests per script call under 16 connections: 7.5 with one turn, 11-13.5
            // with three; a lone request waits for no one, only three empty turns).
            for _ in 0..3 {
                tokio::task::yield_now().await;
            }
            let now = Instant::now();
            let work = {
                let mut guard = self.state.lock().unwrap_or_else(|p| p.into_inner());
                let st = &mut *guard;
                let mut work = Vec::new();
                for ws in std::mem::take(&mut st.dirty) {
                    let Some(q) = st.queues.get_mut(&ws) else {
                        continue;
                    };
                    q.dirty = false;
                    // A block may have arrived since these requests queued.
                    let mut batch = Vec::new();
                    for w in std::mem::take(&mut q.waiters) {
                        match self.admit_from_block(&mut q.reserve, now) {
                            Some(admission) => {
                                let _ = w.send(Ok(admission));
                            }
                            None => batch.push(w),
                        }
                    }
                    let k = q.reserve.wanted(now, &self.lease);
                    if batch.is_empty() && k == 0 {
                        if q.reserve.is_idle(now, &self.lease) {
                            st.queues.remove(&ws);
                        }
                        continue;
                    }
                    let refresh = q.expiry_set.is_none_or(|t| now >= t + self.refresh / 2);
                    if refresh {
                        q.expiry_set = Some(now);
                    }
                    work.push(Work {
                        ws,
                        batch,
                        k,
                        refresh,
                    });
                }
                if work.is_empty() {
                    st.flushing = false;
                    return;
                }
                work
            };
            match self.round_trip(&work).await {
                Ok((results, sent)) => {
                    let (decisions, grants): (Vec<_>, Vec<_>) = results.into_iter().unzip();
                    self.keep(work.iter().map(|w| w.ws).zip(grants), sent);
                    for (w, decisions) in work.into_iter().zip(decisions) {
                        for (waiter, d) in w.batch.into_iter().zip(decisions) {
                            let _ = waiter.send(Ok(d));
                        }
                    }
                }
                Err(e) => {
                    {
                        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
                        for w in &work {
                            if let Some(q) = st.queues.get_mut(&w.ws) {
                                if w.k > 0 {
                                    q.reserve.pause(now + self.lease.hold);
                                }
                                if w.refresh {
                                    q.expiry_set = None;
                                }
                            }
                        }
                    }
                    for waiter in work.into_iter().flat_map(|w| w.batch) {
                        let _ = waiter.send(Err(e.share()));
                    }
                }
            }
        }
    }

    /// Files each workspace's block from a round trip and schedules its expiry, when its
    /// unused members are taken back out of the log.
    fn keep(self: &Arc<Self>, grants: impl Iterator<Item = (i64, Grant)>, sent: Instant) {
        let until = sent + self.lease.hold;
        let mut expiring = Vec::new();
        {
            let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
            for (ws, grant) in grants {
                let id = self.blocks.fetch_add(1, Ordering::Relaxed);
                if !grant.members.is_empty() {
                    expiring.push((ws, id));
                }
                st.queues
                    .entry(ws)
                    .or_default()
                    .reserve
                    .granted(id, until, grant);
            }
        }
        for (ws, id) in expiring {
            self.expire_at(ws, id, until);
        }
    }

    /// Takes back, once block `id` of `ws` expires, the members it did not hand out.
    fn expire_at(self: &Arc<Self>, ws: i64, id: u64, until: Instant) {
        let store = Arc::clone(self);
        tokio::spawn(async move {
            tokio::time::sleep_until(until.into()).await;
            let unused = {
                let mut st = store.state.lock().unwrap_or_else(|p| p.into_inner());
                let Some(q) = st.queues.get_mut(&ws) else {
                    return;
                };
                let unused = q.reserve.expire(id);
                if q.waiters.is_empty()
                    && !q.dirty
                    && q.reserve.is_idle(Instant::now(), &store.lease)
                {
                    st.queues.remove(&ws);
                }
                unused
            };
            if unused.is_empty() {
                return;
            }
            if let Err(e) = store.remove_all(ws, &unused).await {
                // They leave with the window instead.
                tracing::debug!(error = %e, "rate limiter: unused reserved admissions not taken back");
            }
        });
    }

    /// How long a key lives past its window after its expiry is set: a block's members
    /// are scored up to `hold` ahead, and the expiry is set only every `refresh / 2`.
    fn key_lifetime_past_window(&self) -> Duration {
        self.lease.extra_ttl() + self.refresh
    }

    /// One atomic script call for every workspace's requests and block, bounded by the
    /// configured timeout; returns per workspace a decision per request, in order, with
    /// the member of each admitted one, and its block; and when the call was sent.
    async fn round_trip(
        &self,
        work: &[Work],
    ) -> Result<(Vec<(Vec<Admission>, Grant)>, Instant), StoreError> {
        let mut con = self.manager()?;
        let mut inv = self.script.prepare_invoke();
        inv.arg(self.config.limit)
            .arg(micros(self.config.window))
            .arg(micros(self.lease.hold))
            .arg(micros(self.key_lifetime_past_window()));
        let mut members = Vec::with_capacity(work.len());
        for w in work {
            let (n, k) = (w.batch.len(), w.k as usize);
            inv.key(self.key(w.ws))
                .arg(n)
                .arg(k)
                .arg(u8::from(w.refresh));
            let ms: Vec<Member> = (0..n + k).map(|_| self.member()).collect();
            for m in &ms {
                inv.arg(&m[..]);
            }
            members.push(ms);
        }
        let sent = Instant::now();
        let packed: Vec<u8> =
            tokio::time::timeout(self.options.timeout, inv.invoke_async(&mut con))
                .await
                .map_err(|_| StoreError::Timeout(self.options.timeout))??;
        let bad_reply = || StoreError::Reply(format!("{packed:?}"));
        let reply = unpack_integers(&packed).ok_or_else(bad_reply)?;
        let Some((&now, per_key)) = reply.split_first() else {
            return Err(bad_reply());
        };
        if per_key.len() != 4 * work.len() {
            return Err(bad_reply());
        }
        let results = work
            .iter()
            .zip(members)
            .zip(per_key.chunks_exact(4))
            .map(|((w, members), reply)| {
                let &[admitted, before, oldest, reserved] = reply else {
                    return Err(bad_reply());
                };
                Ok(self.decide(w, members, [admitted, before, oldest, reserved, now], sent))
            })
            .collect::<Result<_, _>>()?;
        Ok((results, sent))
    }

    /// One workspace's decisions and block from its part of the script's reply.
    fn decide(
        &self,
        w: &Work,
        members: Vec<Member>,
        [admitted, before, oldest, reserved, now]: [i64; 5],
        sent: Instant,
    ) -> (Vec<Admission>, Grant) {
        let (n, k) = (w.batch.len(), w.k as usize);
        let admitted = usize::try_from(admitted.max(0)).unwrap_or(0).min(n);
        let reserved = usize::try_from(reserved.max(0)).unwrap_or(0).min(k);
        let before = u32::try_from(before.max(0)).unwrap_or(u32::MAX);
        let elapsed_us = u64::try_from(now.saturating_sub(oldest)).unwrap_or(0);
        let reset_after = self
            .config
            .window
            .saturating_sub(Duration::from_micros(elapsed_us));
        let decisions = (0..n)
            .map(|i| {
                let allowed = i < admitted;
                // Requests ahead in the batch were counted before this one.
                let count = before.saturating_add(i.min(admitted) as u32 + u32::from(allowed));
                let d = self.decision(
                    allowed,
                    self.config.limit.saturating_sub(count),
                    reset_after,
                );
                // The script admits the first `admitted` members, in order.
                (d, members.get(i).copied().filter(|_| allowed))
            })
            .collect();
        let counted = before.saturating_add((admitted + reserved) as u32);
        let grant = Grant {
            members: members.get(n..n + reserved).unwrap_or_default().to_vec(),
            asked: k > 0,
            remaining: self.config.limit.saturating_sub(counted),
            reset_at: sent + reset_after,
        };
        (decisions, grant)
    }

    /// Takes requests' members back out of the workspace's log.
    async fn remove_all(&self, ws: i64, members: &[Member]) -> Result<(), StoreError> {
        let mut con = self.manager()?;
        let mut cmd = redis::cmd("ZREM");
        cmd.arg(self.key(ws));
        for m in members {
            cmd.arg(&m[..]);
        }
        let _removed: i64 = tokio::time::timeout(self.options.timeout, cmd.query_async(&mut con))
            .await
            .map_err(|_| StoreError::Timeout(self.options.timeout))??;
        Ok(())
    }

    /// Takes an admitted request back out of the workspace's log.
    pub async fn remove(&self, ws: i64, member: Member) -> Result<(), StoreError> {
        self.remove_all(ws, &[member]).await
    }

    /// Adds requests admitted `ages` ago (elsewhere) to the workspace's log.
    pub async fn replay(&self, ws: i64, ages: &[Duration]) -> Result<(), StoreError> {
        let mut con = self.manager()?;
        let mut inv = self.replay.key(self.key(ws));
        inv.arg(micros(self.config.window))
            .arg(micros(self.key_lifetime_past_window()));
        for age in ages {
            inv.arg(u64::try_from(age.as_micros()).unwrap_or(u64::MAX))
                .arg(&self.member()[..]);
        }
        let _added: i64 = tokio::time::timeout(self.options.timeout, inv.invoke_async(&mut con))
            .await
            .map_err(|_| StoreError::Timeout(self.options.timeout))??;
        Ok(())
    }

    /// A cheap liveness check (used once at start to log the initial state).
    pub async fn ping(&self) -> Result<(), StoreError> {
        let mut con = self.manager()?;
        let cmd = redis::cmd("PING");
        let pong: String = tokio::time::timeout(self.options.timeout, cmd.query_async(&mut con))
            .await
            .map_err(|_| StoreError::Timeout(self.options.timeout))??;
        if pong == "PONG" {
            Ok(())
        } else {
            Err(StoreError::Reply(pong))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_packed_reply_reads_back_exactly() {
        let values = [1_764_547_200_123_457_i64, 0, 1200, -3, (1 << 53) - 1];
        let bytes: Vec<u8> = values
            .iter()
            .flat_map(|v| (*v as f64).to_be_bytes())
            .collect();
        assert_eq!(unpack_integers(&bytes), Some(values.to_vec()));
        assert_eq!(unpack_integers(&bytes[..12]), None, "cut short");
        assert_eq!(unpack_integers(&0.5f64.to_be_bytes()), None, "not whole");
        assert_eq!(unpack_integers(&f64::NAN.to_be_bytes()), None);
        assert_eq!(unpack_integers(&[]), Some(vec![]));
    }

    #[tokio::test]
    async fn members_are_short_and_unique() {
        let cfg = RateLimitConfig::default();
        let a = RedisStore::new(cfg, "redis://127.0.0.1:1/", RedisOptions::default());
        let b = RedisStore::new(cfg, "redis://127.0.0.1:1/", RedisOptions::default());
        let mut seen = std::collections::HashSet::new();
        for _ in 0..1000 {
            assert!(seen.insert(a.member()));
            assert!(seen.insert(b.member()));
        }
        assert_eq!(a.key(-5), "crm-odata:rl:-5");
    }
}
