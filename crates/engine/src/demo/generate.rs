//! The simulation behind [`generate`]: people visit anonymously from one or
//! more devices, some sign up and come back, buy, get refunds and file
//! tickets. Everything is drawn from one ChaCha8 stream in a fixed order, so
//! the output depends on the seed alone. Erasure requests come from a second
//! stream, drawn after everything else is final, so adding them changed no
//! other table; junk and shared-cookie identity links from a third, so
//! adding them changed no other row.

use chrono::{DateTime, NaiveDateTime};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rust_decimal::Decimal;

use super::DemoConfig;
use super::catalog::{
    ACCOUNT_NOUNS, ACCOUNT_PREFIXES, ACCOUNT_SUFFIXES, ACCOUNT_TICKET_CATEGORIES,
    AFFILIATE_SOURCES, BROWSE_PAGES, CATEGORIES, CONSENT_PURPOSES, COUNTRIES, DEVICE_TYPES,
    DISPLAY_CAMPAIGNS, DISPLAY_SOURCES, EMAIL_CAMPAIGNS, EMAIL_DOMAINS, EMAIL_SOURCES,
    ERASURE_REASONS, FIRST_CHANNELS, FIRST_NAMES, HOURS_WEEKDAY, HOURS_WEEKEND, INDUSTRIES,
    JUNK_ANONYMOUS_IDS, LAST_NAMES, MONTH_WEIGHTS, ORDER_TICKET_CATEGORIES, OS_DESKTOP, OS_MOBILE,
    OS_TABLET, PAGE_CHECKOUT, PAGE_CONFIRMATION, PAGE_LOGIN, PAGE_PRODUCT, PAGE_SIGNUP,
    PAID_SEARCH_CAMPAIGNS, PAID_SEARCH_SOURCES, PLANS, PRODUCT_ADJECTIVES, PRODUCT_COUNT,
    REFERRAL_SOURCES, RETURN_CHANNELS, SEARCH_ENGINES, SEGMENTS, SHARED_COOKIE_CUSTOMERS,
    SOCIAL_CAMPAIGNS, SOCIAL_SOURCES, TICKET_PRIORITIES, WEEKDAY_WEIGHTS, landing_pages,
};
use super::model::{
    Account, AnonymousId, AnonymousTruth, ConsentEvent, Customer, DemoData, Device, DeviceId,
    DeviceTruth, ErasureRequest, Event, IdentityLink, LinkAnonymousId, LinkNoise, MarketingTouch,
    NoiseKind, Order, OrderItem, Product, Session, SessionId, SupportTicket,
};

/// 2025-01-01 00:00:00 UTC.
const YEAR_START_UNIX: i64 = 1_735_689_600;
const HOUR: u32 = 3_600;
const DAY: u32 = 86_400;
const DAYS: u32 = 365;
/// Offset of 2025-12-31 23:59:59.
const YEAR_END: Secs = DAYS * DAY - 1;
/// A session holds at most ~30 events of at most 10 minutes each, so starting
/// no later than this keeps every session inside the year.
const LAST_SESSION_START: Secs = YEAR_END - 6 * HOUR;
/// Calibrated so that scale 1 yields about 10,000 events.
const PEOPLE_PER_SCALE: u64 = 705;
const ACCOUNTS_PER_SCALE: u32 = 25;
/// Day indexes of 2025's shopping peaks.
const BLACK_FRIDAY: u32 = 331;
const CYBER_MONDAY: u32 = 334;
const CHRISTMAS_EVE: u32 = 357;
/// XORed into the seed for the erasure request stream ("ERASE_RQ").
const ERASURE_SEED_KEY: u64 = 0x4552_4153_455f_5251;
/// Share of customers, in thousandths, who ask to be erased.
const ERASURE_PER_MILLE: usize = 15;
/// Even the smallest warehouse has this many, so tests can see them.
const MIN_ERASURES: usize = 2;
/// XORed into the seed for the junk identity link stream ("LINKJUNK").
const LINK_NOISE_SEED_KEY: u64 = 0x4c49_4e4b_4a55_4e4b;
/// A junk value is linked to this many customers, at least.
const JUNK_MIN_CUSTOMERS: usize = 2;
const JUNK_MAX_CUSTOMERS: usize = 4;

/// Seconds since 2025-01-01 00:00:00 UTC; the whole year fits in a `u32`.
type Secs = u32;

/// Converts an offset into the year to a timestamp, clamped to the year.
pub(crate) fn ts(off: Secs) -> NaiveDateTime {
    DateTime::from_timestamp(YEAR_START_UNIX + i64::from(off.min(YEAR_END)), 0)
        .map(|d| d.naive_utc())
        .unwrap_or_default()
}

/// First and last instant any generated timestamp can take.
pub fn time_range() -> (NaiveDateTime, NaiveDateTime) {
    (ts(0), ts(YEAR_END))
}

fn money(cents: i64) -> Decimal {
    Decimal::new(cents, 2)
}

fn day_of(t: Secs) -> u32 {
    t / DAY
}

fn is_weekend(day: u32) -> bool {
    // 2025-01-01 was a Wednesday.
    (day + 2) % 7 >= 5
}

fn month_of(day: u32) -> usize {
    const ENDS: [u32; 12] = [31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334, 365];
    ENDS.iter().position(|&end| day < end).unwrap_or(11)
}

/// A bijection on u64 (the splitmix64 finaliser after a keyed offset): ids
/// look random yet can never collide.
fn scramble(x: u64, key: u64) -> u64 {
    let mut z = x.wrapping_add(key);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn pick<T: Copy + Default>(rng: &mut ChaCha8Rng, items: &[(T, u32)]) -> T {
    let total: u32 = items.iter().map(|i| i.1).sum();
    let mut x = rng.random_range(0..total.max(1));
    for &(v, w) in items {
        if x < w {
            return v;
        }
        x -= w;
    }
    T::default()
}

fn choose<T: Copy + Default>(rng: &mut ChaCha8Rng, items: &[T]) -> T {
    items
        .get(rng.random_range(0..items.len().max(1)))
        .copied()
        .unwrap_or_default()
}

/// Failures before the first success, capped.
fn geometric(rng: &mut ChaCha8Rng, p: f64, cap: u32) -> u32 {
    let mut n = 0;
    while n < cap && !rng.random_bool(p) {
        n += 1;
    }
    n
}

fn exponential(rng: &mut ChaCha8Rng, mean: f64) -> f64 {
    -mean * (1.0 - rng.random::<f64>()).ln()
}

/// Index into a cumulative weight table.
fn sample_cdf(rng: &mut ChaCha8Rng, cdf: &[f64]) -> usize {
    let total = cdf.last().copied().unwrap_or(0.0);
    let x = rng.random::<f64>() * total;
    cdf.partition_point(|&c| c <= x)
        .min(cdf.len().saturating_sub(1))
}

fn cumulative(weights: impl IntoIterator<Item = f64>) -> Vec<f64> {
    let mut acc = 0.0;
    weights
        .into_iter()
        .map(|w| {
            acc += w;
            acc
        })
        .collect()
}

struct ProductInfo {
    cents: i64,
    category: usize,
}

struct Dev {
    id: Option<DeviceId>,
    ty: &'static str,
    os: &'static str,
    first_seen: Secs,
    cookie: Option<usize>,
    /// The current cookie carries a remembered login.
    cookie_logged_in: bool,
    /// Someone logged in on this device at least once (devices.customer_id).
    logged_in_once: bool,
}

struct Anon {
    id: AnonymousId,
    device: usize,
    first_seen: Secs,
    linked: bool,
}

struct Cust {
    prov: i64,
    signup: Secs,
    /// Marketing consent changes in time order: e-mails go only to people
    /// who granted it at the time.
    marketing: Vec<(Secs, bool)>,
    enterprise: bool,
}

impl Cust {
    fn marketing_granted(&self, t: Secs) -> bool {
        self.marketing
            .iter()
            .take_while(|(at, _)| *at <= t)
            .last()
            .is_some_and(|(_, granted)| *granted)
    }
}

struct Person {
    id: u64,
    country: &'static str,
    region: &'static str,
    currency: &'static str,
    fav_category: usize,
    devices: Vec<Dev>,
    anons: Vec<Anon>,
    cust: Option<Cust>,
    first_channel: Option<&'static str>,
    /// Chance that a visit after signing up ends in a purchase.
    loyalty: f64,
    touch_times: Vec<Secs>,
}

struct CustomerName {
    first: &'static str,
    last: &'static str,
    domain: &'static str,
}

struct Generator {
    rng: ChaCha8Rng,
    anon_key: u64,
    device_key: u64,
    session_key: u64,
    next_anon: u64,
    next_device: u64,
    next_session: u64,
    day_cdf: Vec<f64>,
    day_weight: Vec<f64>,
    max_day_weight: f64,
    products: Vec<ProductInfo>,
    product_cdf: Vec<f64>,
    category_products: Vec<(Vec<usize>, Vec<f64>)>,
    small_accounts: Vec<usize>,
    enterprise_accounts: Vec<usize>,
    account_first_signup: Vec<Option<Secs>>,
    names: Vec<CustomerName>,
    data: DemoData,
}

/// Generates the demo warehouse for `cfg`. Pure and deterministic: the same
/// config always yields identical data. Scale 0 is treated as 1.
pub fn generate(cfg: &DemoConfig) -> DemoData {
    let scale = u64::from(cfg.scale.max(1));
    let mut g = Generator::new(cfg, scale);
    for person in 1..=PEOPLE_PER_SCALE * scale {
        g.person(person);
    }
    g.finish()
}

impl Generator {
    fn new(cfg: &DemoConfig, scale: u64) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
        let anon_key = rng.random();
        let device_key = rng.random();
        let session_key = rng.random();

        let day_weight: Vec<f64> = (0..DAYS)
            .map(|d| {
                let special = match d {
                    0 => 0.7,
                    BLACK_FRIDAY => 2.6,
                    332 | 333 => 1.5,
                    CYBER_MONDAY => 2.2,
                    335..=CHRISTMAS_EVE => 1.2,
                    358 | 359 => 0.6,
                    364 => 0.7,
                    _ => 1.0,
                };
                let weekday = WEEKDAY_WEIGHTS[((d + 2) % 7) as usize];
                MONTH_WEIGHTS[month_of(d)] * weekday * special
            })
            .collect();
        let max_day_weight = day_weight.iter().copied().fold(0.0, f64::max);
        let day_cdf = cumulative(day_weight.iter().copied());

        let capacity = (PEOPLE_PER_SCALE * scale) as usize;
        let mut g = Generator {
            rng,
            anon_key,
            device_key,
            session_key,
            next_anon: 0,
            next_device: 0,
            next_session: 0,
            day_cdf,
            day_weight,
            max_day_weight,
            products: Vec::new(),
            product_cdf: Vec::new(),
            category_products: Vec::new(),
            small_accounts: Vec::new(),
            enterprise_accounts: Vec::new(),
            account_first_signup: Vec::new(),
            names: Vec::with_capacity(capacity / 2),
            data: DemoData {
                config: cfg.clone(),
                accounts: Vec::new(),
                customers: Vec::with_capacity(capacity / 2),
                products: Vec::new(),
                devices: Vec::with_capacity(capacity * 2),
                identity_links: Vec::with_capacity(capacity),
                sessions: Vec::with_capacity(capacity * 4),
                events: Vec::with_capacity(capacity * 20),
                orders: Vec::with_capacity(capacity),
                order_items: Vec::with_capacity(capacity * 2),
                marketing_touches: Vec::with_capacity(capacity * 5),
                consent_events: Vec::with_capacity(capacity),
                support_tickets: Vec::with_capacity(capacity / 8),
                erasure_requests: Vec::new(),
                truth_anonymous: Vec::with_capacity(capacity * 2),
                truth_devices: Vec::with_capacity(capacity * 2),
                truth_link_noise: Vec::new(),
            },
        };
        g.make_products();
        g.make_accounts(ACCOUNTS_PER_SCALE * scale as u32);
        g
    }

    fn make_products(&mut self) {
        let rng = &mut self.rng;
        let cat_weights: Vec<(usize, u32)> = CATEGORIES
            .iter()
            .enumerate()
            .map(|(i, c)| (i, c.weight))
            .collect();
        for i in 0..PRODUCT_COUNT {
            // Every category gets at least a few products, the rest follow weights.
            let category = if i < CATEGORIES.len() * 3 {
                i % CATEGORIES.len()
            } else {
                pick(rng, &cat_weights)
            };
            let Some(cat) = CATEGORIES.get(category) else {
                continue;
            };
            let brand = choose(rng, cat.brands);
            let noun = choose(rng, cat.nouns);
            let adjective = choose(rng, PRODUCT_ADJECTIVES);
            // Log-uniform prices: cheap items are far more common.
            let (lo, hi) = (cat.price.0 as f64, cat.price.1 as f64);
            let whole = (lo * (hi / lo).powf(rng.random::<f64>())).floor() as i64;
            let cents = whole * 100 + if rng.random_bool(0.8) { 99 } else { 0 };
            let product_id = self.data.products.len() as i64 + 1;
            self.data.products.push(Product {
                product_id,
                name: format!("{brand} {adjective} {noun}"),
                category: cat.name,
                brand,
                price: money(cents),
            });
            self.products.push(ProductInfo { cents, category });
        }
        // Popularity follows a Zipf-like curve over a shuffled ranking.
        let mut rank: Vec<usize> = (0..self.products.len()).collect();
        for i in (1..rank.len()).rev() {
            let j = rng.random_range(0..=i);
            rank.swap(i, j);
        }
        let popularity: Vec<f64> = rank
            .iter()
            .map(|&r| 1.0 / (r as f64 + 1.0).powf(0.8))
            .collect();
        self.product_cdf = cumulative(popularity.iter().copied());
        self.category_products = (0..CATEGORIES.len())
            .map(|c| {
                let members: Vec<usize> = (0..self.products.len())
                    .filter(|&p| self.products.get(p).is_some_and(|i| i.category == c))
                    .collect();
                let cdf = cumulative(
                    members
                        .iter()
                        .map(|&p| popularity.get(p).copied().unwrap_or(0.0)),
                );
                (members, cdf)
            })
            .collect();
    }

    fn make_accounts(&mut self, count: u32) {
        for i in 0..count.max(2) {
            let rng = &mut self.rng;
            let name = format!(
                "{} {} {}",
                choose(rng, ACCOUNT_PREFIXES),
                choose(rng, ACCOUNT_NOUNS),
                choose(rng, ACCOUNT_SUFFIXES)
            );
            let plan = pick(rng, PLANS);
            let industry = pick(rng, INDUSTRIES);
            let index = i as usize;
            if plan == "enterprise" {
                self.enterprise_accounts.push(index);
            } else {
                self.small_accounts.push(index);
            }
            self.data.accounts.push(Account {
                account_id: i64::from(i) + 1,
                name,
                plan,
                industry,
                // Set in `finish`, once the members' signups are known.
                created_at: ts(0),
            });
            self.account_first_signup.push(None);
        }
    }

    fn new_anon(&mut self) -> AnonymousId {
        self.next_anon += 1;
        AnonymousId(scramble(self.next_anon, self.anon_key))
    }

    fn new_device(&mut self) -> DeviceId {
        self.next_device += 1;
        DeviceId(scramble(self.next_device, self.device_key))
    }

    fn new_session(&mut self) -> SessionId {
        self.next_session += 1;
        SessionId(scramble(self.next_session, self.session_key))
    }

    fn time_of_day(&mut self, day: u32) -> Secs {
        let hours = if is_weekend(day) {
            &HOURS_WEEKEND
        } else {
            &HOURS_WEEKDAY
        };
        let weighted: [(u32, u32); 24] = std::array::from_fn(|h| (h as u32, hours[h]));
        let hour = pick(&mut self.rng, &weighted);
        day * DAY + hour * HOUR + self.rng.random_range(0..HOUR)
    }

    fn first_visit(&mut self) -> Secs {
        let day = sample_cdf(&mut self.rng, &self.day_cdf) as u32;
        self.time_of_day(day)
    }

    /// The start of the visit after one that ended at `after`, or `None` past
    /// the end of the year. Thinning by the day weight gives returning
    /// visitors the same weekly and yearly rhythm as new ones.
    fn next_visit(&mut self, after: Secs, mean_days: f64) -> Option<Secs> {
        for _ in 0..20 {
            let gap = exponential(&mut self.rng, mean_days) as u32;
            let day = day_of(after).saturating_add(gap);
            if day >= DAYS {
                return None;
            }
            let weight = self.day_weight.get(day as usize).copied().unwrap_or(0.0);
            if self.rng.random::<f64>() * self.max_day_weight > weight {
                continue;
            }
            let mut t = self.time_of_day(day);
            if t < after + HOUR / 2 {
                t = after + HOUR / 2 + self.rng.random_range(0..4 * HOUR);
            }
            return (t <= LAST_SESSION_START).then_some(t);
        }
        None
    }

    fn dwell(&mut self) -> Secs {
        3 + (exponential(&mut self.rng, 40.0) as u32).min(597)
    }

    fn pick_product(&mut self, fav_category: usize) -> usize {
        if self.rng.random_bool(0.6)
            && let Some((members, cdf)) = self.category_products.get(fav_category)
            && !members.is_empty()
        {
            let i = sample_cdf(&mut self.rng, cdf);
            return members.get(i).copied().unwrap_or(0);
        }
        sample_cdf(&mut self.rng, &self.product_cdf)
    }

    fn resolve_page(&mut self, page: &'static str, fav_category: usize) -> &'static str {
        if page != "@category" {
            return page;
        }
        let category = if self.rng.random_bool(0.6) {
            fav_category
        } else {
            self.rng.random_range(0..CATEGORIES.len())
        };
        CATEGORIES.get(category).map_or("/", |c| c.page)
    }

    fn person(&mut self, person_id: u64) {
        let countries: Vec<(usize, u32)> = COUNTRIES
            .iter()
            .enumerate()
            .map(|(i, c)| (i, c.3))
            .collect();
        let (country, region, currency, _) = COUNTRIES
            .get(pick(&mut self.rng, &countries))
            .copied()
            .unwrap_or(("US", "NA", "USD", 0));
        let categories: Vec<(usize, u32)> = CATEGORIES
            .iter()
            .enumerate()
            .map(|(i, c)| (i, c.weight))
            .collect();
        let fav_category = pick(&mut self.rng, &categories);
        let will_sign_up = self.rng.random_bool(0.36);
        let n_devices = pick(&mut self.rng, &[(1u32, 50), (2, 30), (3, 15), (4, 5)]);
        let mut devices = Vec::new();
        for i in 0..n_devices {
            let types: Vec<(&'static str, u32)> = DEVICE_TYPES
                .iter()
                .map(|&(t, first, later)| (t, if i == 0 { first } else { later }))
                .collect();
            let ty = pick(&mut self.rng, &types);
            let os = match ty {
                "desktop" => pick(&mut self.rng, OS_DESKTOP),
                "tablet" => pick(&mut self.rng, OS_TABLET),
                _ => pick(&mut self.rng, OS_MOBILE),
            };
            devices.push(Dev {
                id: None,
                ty,
                os,
                first_seen: 0,
                cookie: None,
                cookie_logged_in: false,
                logged_in_once: false,
            });
        }
        let u: f64 = self.rng.random();
        let mut p = Person {
            id: person_id,
            country,
            region,
            currency,
            fav_category,
            devices,
            anons: Vec::new(),
            cust: None,
            first_channel: None,
            loyalty: 0.05 + 0.45 * u * u,
            touch_times: Vec::new(),
        };

        let (n_visits, signup_visit, mean_gap) = if will_sign_up {
            let n = 2 + geometric(&mut self.rng, 0.12, 38);
            let at = pick(&mut self.rng, &[(0u32, 35), (1, 35), (2, 20), (3, 10)]);
            (n, Some(at.min(n - 1)), 16.0)
        } else {
            (1 + geometric(&mut self.rng, 0.5, 10), None, 10.0)
        };
        let mut start = self.first_visit().min(LAST_SESSION_START);
        for visit in 0..n_visits {
            let end = self.session(&mut p, start, signup_visit == Some(visit));
            match self.next_visit(end, mean_gap) {
                Some(next) => start = next,
                None => break,
            }
        }
        self.phone_order(&mut p);
        self.finish_person(&p);
    }

    fn pick_device(&mut self, p: &Person, weekend: bool) -> usize {
        if p.devices.len() <= 1 || self.rng.random_bool(0.55) {
            // The primary device, except that weekends favour phones.
            if weekend
                && let Some(mobile) = p.devices.iter().position(|d| d.ty == "mobile")
                && self.rng.random_bool(0.5)
            {
                return mobile;
            }
            return 0;
        }
        self.rng.random_range(0..p.devices.len())
    }

    /// Simulates one visit starting at `start`; returns when it ended.
    fn session(&mut self, p: &mut Person, start: Secs, sign_up_now: bool) -> Secs {
        let weekend = is_weekend(day_of(start));
        let dev_idx = self.pick_device(p, weekend);
        let Some(dev) = p.devices.get(dev_idx) else {
            return start;
        };
        // Cookies get cleared now and then: a new anonymous id on a known device.
        let new_cookie = dev.cookie.is_none() || self.rng.random_bool(0.07);
        let device_id = match dev.id {
            Some(id) => id,
            None => self.new_device(),
        };
        let anon_idx = if new_cookie {
            let id = self.new_anon();
            p.anons.push(Anon {
                id,
                device: dev_idx,
                first_seen: start,
                linked: false,
            });
            p.anons.len() - 1
        } else {
            dev.cookie.unwrap_or(0)
        };
        if let Some(dev) = p.devices.get_mut(dev_idx) {
            if dev.id.is_none() {
                dev.id = Some(device_id);
                dev.first_seen = start;
            }
            if new_cookie {
                dev.cookie = Some(anon_idx);
                dev.cookie_logged_in = false;
            }
        }
        let anon = p.anons.get(anon_idx).map_or(AnonymousId(0), |a| a.id);
        let session_id = self.new_session();

        let channel = match p.first_channel {
            None => {
                let c = pick(&mut self.rng, FIRST_CHANNELS);
                p.first_channel = Some(c);
                c
            }
            Some(_) => {
                let c = pick(&mut self.rng, RETURN_CHANNELS);
                let reachable = p.cust.as_ref().is_some_and(|c| c.marketing_granted(start));
                if c == "email" && !reachable {
                    "direct"
                } else {
                    c
                }
            }
        };

        let remembered = p.cust.is_some()
            && p.devices
                .get(dev_idx)
                .is_some_and(|d| d.cookie_logged_in && d.cookie == Some(anon_idx));
        let cust_prov = p.cust.as_ref().map(|c| c.prov);
        let mut logged_in = if remembered { cust_prov } else { None };
        let touch_customer = if channel == "email" {
            cust_prov
        } else {
            logged_in
        };
        self.touch(p, anon, touch_customer, start, channel, true);
        if let Some(c) = touch_customer {
            self.link(p, anon_idx, c, start, "email_click");
        }

        let landing_choice = pick(&mut self.rng, landing_pages(channel));
        let landing = self.resolve_page(landing_choice, p.fav_category);
        let mut t = start;
        self.event(session_id, anon, logged_in, "page_view", t, landing, None);

        let buying = cust_prov.is_some() && {
            let day = day_of(start);
            let chance = p.loyalty * buy_season(day);
            self.rng.random_bool(chance.min(0.95))
        };
        // Logged-out customers log in in some visits even without buying.
        let login_at = if cust_prov.is_some() && logged_in.is_none() && !buying {
            self.rng
                .random_bool(0.45)
                .then(|| self.rng.random_range(0..3u32))
        } else {
            None
        };

        let n_browse = 1 + geometric(&mut self.rng, 0.38, 13);
        let mut viewed: Vec<usize> = Vec::new();
        for step in 0..n_browse {
            if login_at == Some(step) && logged_in.is_none() {
                t += self.dwell();
                logged_in = self.login(p, dev_idx, anon_idx, session_id, t);
            }
            t += self.dwell();
            if self.rng.random_bool(0.68) {
                let product = self.pick_product(p.fav_category);
                viewed.push(product);
                self.event(
                    session_id,
                    anon,
                    logged_in,
                    "product_view",
                    t,
                    PAGE_PRODUCT,
                    Some(product),
                );
            } else {
                let choice = pick(&mut self.rng, BROWSE_PAGES);
                let page = self.resolve_page(choice, p.fav_category);
                self.event(session_id, anon, logged_in, "page_view", t, page, None);
            }
        }

        let mut buying = buying;
        if sign_up_now && p.cust.is_none() {
            t += self.dwell();
            let prov = self.sign_up(p, t, anon, session_id);
            logged_in = Some(prov);
            self.link(p, anon_idx, prov, t, "signup");
            if let Some(dev) = p.devices.get_mut(dev_idx) {
                dev.logged_in_once = true;
                dev.cookie_logged_in = self.rng.random_bool(0.8);
            }
            buying = self.rng.random_bool(0.3);
        }

        if buying {
            let n_items = 1 + geometric(&mut self.rng, 0.5, 5) as usize;
            let mut cart: Vec<usize> = Vec::with_capacity(n_items);
            for &v in viewed.iter().rev() {
                if cart.len() < n_items && !cart.contains(&v) && self.rng.random_bool(0.7) {
                    cart.push(v);
                }
            }
            for _ in 0..n_items * 3 {
                if cart.len() >= n_items {
                    break;
                }
                let product = self.pick_product(p.fav_category);
                if !cart.contains(&product) {
                    cart.push(product);
                }
            }
            for &product in &cart {
                t += self.dwell();
                self.event(
                    session_id,
                    anon,
                    logged_in,
                    "add_to_cart",
                    t,
                    PAGE_PRODUCT,
                    Some(product),
                );
            }
            if logged_in.is_none() {
                t += self.dwell();
                logged_in = self.login(p, dev_idx, anon_idx, session_id, t);
            }
            t += self.dwell();
            self.event(
                session_id,
                anon,
                logged_in,
                "checkout",
                t,
                PAGE_CHECKOUT,
                None,
            );
            if self.rng.random_bool(0.9) {
                t += self.dwell();
                self.event(
                    session_id,
                    anon,
                    logged_in,
                    "purchase",
                    t,
                    PAGE_CONFIRMATION,
                    None,
                );
                let device_type = p.devices.get(dev_idx).map_or("desktop", |d| d.ty);
                let channel = if device_type != "desktop" && self.rng.random_bool(0.5) {
                    "mobile_app"
                } else {
                    "web"
                };
                self.order(p, Some(session_id), channel, t, &cart);
                self.journey(p, anon_idx, t);
            }
        } else if self.rng.random_bool(0.1) {
            // An abandoned cart, sometimes abandoned at checkout.
            let n = 1 + geometric(&mut self.rng, 0.6, 1);
            for _ in 0..n {
                let product = match viewed.last() {
                    Some(&v) if self.rng.random_bool(0.7) => v,
                    _ => self.pick_product(p.fav_category),
                };
                t += self.dwell();
                self.event(
                    session_id,
                    anon,
                    logged_in,
                    "add_to_cart",
                    t,
                    PAGE_PRODUCT,
                    Some(product),
                );
            }
            if self.rng.random_bool(0.25) {
                t += self.dwell();
                self.event(
                    session_id,
                    anon,
                    logged_in,
                    "checkout",
                    t,
                    PAGE_CHECKOUT,
                    None,
                );
            }
        }

        let end = t + self.rng.random_range(5..=120);
        self.data.sessions.push(Session {
            session_id,
            anonymous_id: anon,
            customer_id: logged_in,
            device_id,
            started_at: ts(start),
            ended_at: ts(end),
            channel,
            landing_page: landing,
        });
        end
    }

    #[allow(clippy::too_many_arguments)]
    fn event(
        &mut self,
        session_id: SessionId,
        anonymous_id: AnonymousId,
        customer_id: Option<i64>,
        event_type: &'static str,
        t: Secs,
        page: &'static str,
        product: Option<usize>,
    ) {
        // Provisional id: the final ones follow time order (see `finish`).
        let event_id = self.data.events.len() as i64;
        self.data.events.push(Event {
            event_id,
            session_id,
            anonymous_id,
            customer_id,
            event_type,
            occurred_at: ts(t),
            page,
            product_id: product.map(|p| p as i64 + 1),
        });
    }

    fn login(
        &mut self,
        p: &mut Person,
        dev_idx: usize,
        anon_idx: usize,
        session_id: SessionId,
        t: Secs,
    ) -> Option<i64> {
        let prov = p.cust.as_ref()?.prov;
        let anon = p.anons.get(anon_idx)?.id;
        self.event(session_id, anon, Some(prov), "login", t, PAGE_LOGIN, None);
        self.link(p, anon_idx, prov, t, "login");
        let remember = self.rng.random_bool(0.7);
        if let Some(dev) = p.devices.get_mut(dev_idx) {
            dev.logged_in_once = true;
            dev.cookie_logged_in = remember;
        }
        Some(prov)
    }

    /// Records that `anon_idx` is now known to be customer `prov`; the first
    /// way it became known is the source.
    fn link(&mut self, p: &mut Person, anon_idx: usize, prov: i64, t: Secs, source: &'static str) {
        let Some(anon) = p.anons.get_mut(anon_idx) else {
            return;
        };
        if anon.linked {
            return;
        }
        anon.linked = true;
        self.data.identity_links.push(IdentityLink {
            anonymous_id: LinkAnonymousId::Cookie(anon.id),
            customer_id: prov,
            linked_at: ts(t),
            source,
        });
    }

    fn sign_up(&mut self, p: &mut Person, t: Secs, anon: AnonymousId, session: SessionId) -> i64 {
        let prov = self.data.customers.len() as i64;
        self.event(session, anon, Some(prov), "signup", t, PAGE_SIGNUP, None);
        let segment = pick(&mut self.rng, SEGMENTS);
        let account = match segment {
            "smb" => Some(&self.small_accounts),
            "enterprise" if !self.enterprise_accounts.is_empty() => Some(&self.enterprise_accounts),
            "enterprise" => Some(&self.small_accounts),
            _ => None,
        }
        .and_then(|pool| {
            let i = self.rng.random_range(0..pool.len().max(1));
            pool.get(i).copied()
        });
        if let Some(slot) = account.and_then(|a| self.account_first_signup.get_mut(a)) {
            *slot = Some(slot.map_or(t, |s| s.min(t)));
        }
        let is_test = self.rng.random_bool(0.03);
        let name = CustomerName {
            first: choose(&mut self.rng, FIRST_NAMES),
            last: choose(&mut self.rng, LAST_NAMES),
            domain: choose(&mut self.rng, EMAIL_DOMAINS),
        };
        self.names.push(name);
        self.data.customers.push(Customer {
            customer_id: prov,
            account_id: account.map(|a| a as i64 + 1),
            // Filled in `finish`, where it can carry the final customer id.
            email: String::new(),
            country: p.country,
            region: p.region,
            segment,
            acquisition_channel: p.first_channel.unwrap_or("direct"),
            signed_up_at: ts(t),
            is_test,
        });
        let marketing = self.consents(prov, t);
        p.cust = Some(Cust {
            prov,
            signup: t,
            marketing,
            enterprise: segment == "enterprise",
        });
        if self.rng.random_bool(0.05) {
            let opened = t + (exponential(&mut self.rng, 30.0 * f64::from(DAY)) as u32);
            let category = pick(&mut self.rng, ACCOUNT_TICKET_CATEGORIES);
            self.ticket(prov, opened, category, false);
        }
        prov
    }

    /// Consent grants at signup, later withdrawals and re-grants; returns the
    /// marketing timeline.
    fn consents(&mut self, prov: i64, signup: Secs) -> Vec<(Secs, bool)> {
        let mut marketing = Vec::new();
        for &(purpose, grant_chance) in CONSENT_PURPOSES {
            let mut timeline = Vec::new();
            let mut granted = self.rng.random_bool(grant_chance);
            if granted {
                timeline.push((signup, true));
            }
            let mut t = signup;
            let mut withdrew = false;
            for _ in 0..3 {
                let change = if granted {
                    self.rng.random_bool(0.15)
                } else {
                    self.rng.random_bool(if withdrew { 0.3 } else { 0.08 })
                };
                if !change {
                    break;
                }
                let mean = if granted { 90.0 } else { 45.0 };
                let at = t
                    .saturating_add(HOUR)
                    .saturating_add(exponential(&mut self.rng, mean * f64::from(DAY)) as u32);
                if at > YEAR_END {
                    break;
                }
                withdrew |= granted;
                granted = !granted;
                t = at;
                timeline.push((at, granted));
            }
            for &(at, granted) in &timeline {
                self.data.consent_events.push(ConsentEvent {
                    consent_event_id: self.data.consent_events.len() as i64,
                    customer_id: prov,
                    purpose,
                    status: if granted { "granted" } else { "withdrawn" },
                    occurred_at: ts(at),
                });
            }
            if purpose == "marketing" {
                marketing = timeline;
            }
        }
        marketing
    }

    fn touch(
        &mut self,
        p: &mut Person,
        anon: AnonymousId,
        customer_id: Option<i64>,
        t: Secs,
        channel: &'static str,
        click: bool,
    ) {
        let month = month_of(day_of(t));
        let rng = &mut self.rng;
        let seasonal = match (month, day_of(t)) {
            (10, d) if d >= 320 => Some("black_friday_2025"),
            (11, d) if d <= CHRISTMAS_EVE => Some("holiday_2025"),
            (2..=4, _) => Some("spring_launch_2025"),
            (5..=7, _) => Some("summer_sale_2025"),
            _ => None,
        };
        let seasonal = seasonal.filter(|_| rng.random_bool(0.4));
        let (campaign, source, medium, cost) = match channel {
            "paid_search" => (
                Some(choose(rng, PAID_SEARCH_CAMPAIGNS)),
                pick(rng, PAID_SEARCH_SOURCES),
                "cpc",
                rng.random_range(25..=350),
            ),
            "organic_search" => (None, pick(rng, SEARCH_ENGINES), "organic", 0),
            "email" => (
                Some(seasonal.unwrap_or_else(|| choose(rng, EMAIL_CAMPAIGNS))),
                pick(rng, EMAIL_SOURCES),
                "email",
                0,
            ),
            "social" if click && rng.random_bool(0.3) => {
                (None, pick(rng, SOCIAL_SOURCES), "social", 0)
            }
            "social" => (
                Some(seasonal.unwrap_or_else(|| choose(rng, SOCIAL_CAMPAIGNS))),
                pick(rng, SOCIAL_SOURCES),
                "paid_social",
                if click {
                    rng.random_range(10..=150)
                } else {
                    rng.random_range(1..=8)
                },
            ),
            "display" => (
                Some(seasonal.unwrap_or_else(|| choose(rng, DISPLAY_CAMPAIGNS))),
                pick(rng, DISPLAY_SOURCES),
                "display",
                if click {
                    rng.random_range(20..=120)
                } else {
                    rng.random_range(1..=5)
                },
            ),
            "affiliate" => (
                Some("partner_program"),
                pick(rng, AFFILIATE_SOURCES),
                "affiliate",
                rng.random_range(50..=200),
            ),
            "referral" => (None, pick(rng, REFERRAL_SOURCES), "referral", 0),
            _ => (None, "(direct)", "(none)", 0),
        };
        p.touch_times.push(t);
        self.data.marketing_touches.push(MarketingTouch {
            touch_id: self.data.marketing_touches.len() as i64,
            anonymous_id: anon,
            customer_id,
            touched_at: ts(t),
            channel,
            campaign,
            source,
            medium,
            cost: money(cost),
        });
    }

    /// Ad impressions that preceded a purchase, so that most purchases have a
    /// journey of 1–6 touches over the previous two weeks.
    fn journey(&mut self, p: &mut Person, anon_idx: usize, purchase: Secs) {
        let Some(anon) = p.anons.get(anon_idx) else {
            return;
        };
        let (anon_id, cookie_born) = (anon.id, anon.first_seen);
        let wanted = pick(
            &mut self.rng,
            &[(1usize, 20), (2, 25), (3, 22), (4, 15), (5, 10), (6, 8)],
        );
        let window = purchase.saturating_sub(14 * DAY);
        let existing = p
            .touch_times
            .iter()
            .filter(|&&x| x >= window && x <= purchase)
            .count();
        let from = window.max(cookie_born);
        for _ in existing..wanted {
            if from + 60 >= purchase {
                break;
            }
            let t = self.rng.random_range(from..purchase - 60);
            let channel = if self.rng.random_bool(0.55) {
                "display"
            } else {
                "social"
            };
            self.touch(p, anon_id, None, t, channel, false);
        }
    }

    fn order(
        &mut self,
        p: &Person,
        session_id: Option<SessionId>,
        channel: &'static str,
        t: Secs,
        cart: &[usize],
    ) {
        let Some(cust) = p.cust.as_ref() else {
            return;
        };
        let order_prov = self.data.orders.len() as i64;
        let mut subtotal = 0i64;
        let mut line_cents = Vec::with_capacity(cart.len());
        for &product in cart {
            let Some(info) = self.products.get(product) else {
                continue;
            };
            let quantity = if cust.enterprise {
                self.rng.random_range(1..=10)
            } else {
                pick(
                    &mut self.rng,
                    &[(1i64, 75), (2, 18), (3, 5), (4, 1), (5, 1)],
                )
            };
            let unit = if self.rng.random_bool(0.1) {
                // A sale price, rounded to the cent.
                (info.cents * 85 + 50) / 100
            } else {
                info.cents
            };
            let line = unit * quantity;
            subtotal += line;
            line_cents.push(line);
            self.data.order_items.push(OrderItem {
                order_item_id: self.data.order_items.len() as i64,
                order_id: order_prov,
                product_id: product as i64 + 1,
                quantity: quantity as i32,
                unit_price: money(unit),
                line_amount: money(line),
            });
        }
        if line_cents.is_empty() {
            return;
        }
        let r: f64 = self.rng.random();
        let discount = if r < 0.2 {
            let pct = choose(&mut self.rng, &[10i64, 15, 20]);
            subtotal * pct / 100
        } else if r < 0.28 {
            choose(&mut self.rng, &[500i64, 1000]).min(subtotal / 2)
        } else {
            0
        };
        let amount = subtotal - discount;

        let r: f64 = self.rng.random();
        let refund_at = t + DAY + self.rng.random_range(0..30 * DAY);
        let (status, refunded, refunded_at) = if r < 0.068 && refund_at <= YEAR_END {
            let refunded = if line_cents.len() > 1 && self.rng.random_bool(0.35) {
                choose(&mut self.rng, &line_cents).min(amount)
            } else if self.rng.random_bool(0.5) {
                amount
            } else {
                (amount * self.rng.random_range(20..=80) / 100).max(1)
            };
            ("refunded", refunded, Some(ts(refund_at)))
        } else if r < 0.108 {
            ("cancelled", 0, None)
        } else {
            ("completed", 0, None)
        };
        self.data.orders.push(Order {
            order_id: order_prov,
            customer_id: cust.prov,
            session_id,
            ordered_at: ts(t),
            status,
            amount: money(amount),
            discount: money(discount),
            refunded_amount: money(refunded),
            refunded_at,
            currency: p.currency,
            channel,
        });

        let ticket_chance = match status {
            "refunded" => 0.5,
            "cancelled" => 0.2,
            _ => 0.08,
        };
        if self.rng.random_bool(ticket_chance) {
            let opened = t + HOUR + self.rng.random_range(0..14 * DAY);
            let category = match status {
                "refunded" => "refund",
                "cancelled" => "billing",
                _ => pick(&mut self.rng, ORDER_TICKET_CATEGORIES),
            };
            self.ticket(cust.prov, opened, category, status != "completed");
        }
    }

    /// Orders placed by phone: no web session behind them.
    fn phone_order(&mut self, p: &mut Person) {
        let Some(signup) = p.cust.as_ref().map(|c| c.signup) else {
            return;
        };
        if !self.rng.random_bool(0.05) {
            return;
        }
        let from = signup + DAY;
        let to = YEAR_END - 2 * DAY;
        if from >= to {
            return;
        }
        let t = self.rng.random_range(from..to);
        let n = 1 + geometric(&mut self.rng, 0.6, 2) as usize;
        let mut cart = Vec::with_capacity(n);
        for _ in 0..n {
            let product = self.pick_product(p.fav_category);
            if !cart.contains(&product) {
                cart.push(product);
            }
        }
        self.order(p, None, "phone", t, &cart);
    }

    fn ticket(&mut self, prov: i64, opened: Secs, category: &'static str, upset: bool) {
        if opened > YEAR_END {
            return;
        }
        let priority = pick(&mut self.rng, TICKET_PRIORITIES);
        let mean_hours = match priority {
            "urgent" => 6.0,
            "high" => 24.0,
            "normal" => 48.0,
            _ => 96.0,
        };
        let resolution = 600 + exponential(&mut self.rng, mean_hours * f64::from(HOUR)) as u32;
        let closed = opened.saturating_add(resolution);
        let closed = (closed <= YEAR_END && !self.rng.random_bool(0.04)).then_some(closed);
        let csat = match closed {
            Some(_) if self.rng.random_bool(0.55) => {
                let unhappy = upset || priority == "urgent" || resolution > 72 * HOUR;
                let weights: &[(i32, u32)] = if unhappy {
                    &[(1, 15), (2, 15), (3, 25), (4, 25), (5, 20)]
                } else {
                    &[(1, 4), (2, 6), (3, 15), (4, 35), (5, 40)]
                };
                Some(pick(&mut self.rng, weights))
            }
            _ => None,
        };
        self.data.support_tickets.push(SupportTicket {
            ticket_id: self.data.support_tickets.len() as i64,
            customer_id: prov,
            opened_at: ts(opened),
            closed_at: closed.map(ts),
            priority,
            category,
            csat_score: csat,
        });
    }

    /// Emits the person's devices and the identity answer key. Every cookie
    /// is tied to its device by its sessions, so a cookie reaches the
    /// customer exactly when its device does: by a login on the device or by
    /// any cookie of the device having an identity link.
    fn finish_person(&mut self, p: &Person) {
        let cust = p.cust.as_ref().map(|c| c.prov);
        for (dev_idx, dev) in p.devices.iter().enumerate() {
            let Some(device_id) = dev.id else {
                continue;
            };
            let any_cookie_linked = p.anons.iter().any(|a| a.device == dev_idx && a.linked);
            let reaches = cust.is_some() && (dev.logged_in_once || any_cookie_linked);
            self.data.devices.push(Device {
                device_id,
                customer_id: cust.filter(|_| dev.logged_in_once),
                device_type: dev.ty,
                os: dev.os,
                first_seen_at: ts(dev.first_seen),
            });
            self.data.truth_devices.push(DeviceTruth {
                device_id,
                person_id: p.id,
                customer_id: cust,
                linkable: reaches,
            });
            for anon in p.anons.iter().filter(|a| a.device == dev_idx) {
                self.data.truth_anonymous.push(AnonymousTruth {
                    anonymous_id: anon.id,
                    person_id: p.id,
                    device_id,
                    customer_id: cust,
                    linkable: reaches,
                    direct: anon.linked,
                });
            }
        }
    }

    /// Gives rows their final ids (customers by signup time, events, orders
    /// and the other serial ids by time, as an auto-increment would) and
    /// sorts every table by primary key.
    fn finish(mut self) -> DemoData {
        let d = &mut self.data;

        let mut by_signup: Vec<usize> = (0..d.customers.len()).collect();
        by_signup.sort_unstable_by_key(|&i| (d.customers.get(i).map(|c| c.signed_up_at), i));
        let mut final_id = vec![0i64; d.customers.len()];
        for (rank, &prov) in by_signup.iter().enumerate() {
            if let Some(slot) = final_id.get_mut(prov) {
                *slot = rank as i64 + 1;
            }
        }
        let remap = |c: i64| final_id.get(c as usize).copied().unwrap_or(c);
        let remap_opt = |c: Option<i64>| c.map(remap);

        let mut customers = std::mem::take(&mut d.customers);
        for (prov, c) in customers.iter_mut().enumerate() {
            c.customer_id = remap(prov as i64);
            if let Some(n) = self.names.get(prov) {
                c.email = if c.is_test {
                    format!("qa.tester{}@{}", c.customer_id, n.domain)
                } else {
                    format!("{}.{}{}@{}", n.first, n.last, c.customer_id, n.domain)
                };
            }
        }
        customers.sort_unstable_by_key(|c| c.customer_id);
        d.customers = customers;

        for dev in &mut d.devices {
            dev.customer_id = remap_opt(dev.customer_id);
        }
        d.devices.sort_unstable_by_key(|x| x.device_id);
        // Sorted once the noise links are in, below.
        for l in &mut d.identity_links {
            l.customer_id = remap(l.customer_id);
        }
        for s in &mut d.sessions {
            s.customer_id = remap_opt(s.customer_id);
        }
        d.sessions.sort_unstable_by_key(|s| s.session_id);

        for e in &mut d.events {
            e.customer_id = remap_opt(e.customer_id);
        }
        d.events
            .sort_unstable_by_key(|e| (e.occurred_at, e.event_id));
        for (i, e) in d.events.iter_mut().enumerate() {
            e.event_id = i as i64 + 1;
        }

        d.orders
            .sort_unstable_by_key(|o| (o.ordered_at, o.order_id));
        let mut order_id = vec![0i64; d.orders.len()];
        for (i, o) in d.orders.iter_mut().enumerate() {
            if let Some(slot) = order_id.get_mut(o.order_id as usize) {
                *slot = i as i64 + 1;
            }
            o.order_id = i as i64 + 1;
            o.customer_id = remap(o.customer_id);
        }
        for item in &mut d.order_items {
            item.order_id = order_id
                .get(item.order_id as usize)
                .copied()
                .unwrap_or(item.order_id);
        }
        d.order_items
            .sort_unstable_by_key(|i| (i.order_id, i.order_item_id));
        for (i, item) in d.order_items.iter_mut().enumerate() {
            item.order_item_id = i as i64 + 1;
        }

        for t in &mut d.marketing_touches {
            t.customer_id = remap_opt(t.customer_id);
        }
        d.marketing_touches
            .sort_unstable_by_key(|t| (t.touched_at, t.touch_id));
        for (i, t) in d.marketing_touches.iter_mut().enumerate() {
            t.touch_id = i as i64 + 1;
        }

        for c in &mut d.consent_events {
            c.customer_id = remap(c.customer_id);
        }
        d.consent_events
            .sort_unstable_by_key(|c| (c.occurred_at, c.consent_event_id));
        for (i, c) in d.consent_events.iter_mut().enumerate() {
            c.consent_event_id = i as i64 + 1;
        }

        for t in &mut d.support_tickets {
            t.customer_id = remap(t.customer_id);
        }
        d.support_tickets
            .sort_unstable_by_key(|t| (t.opened_at, t.ticket_id));
        for (i, t) in d.support_tickets.iter_mut().enumerate() {
            t.ticket_id = i as i64 + 1;
        }

        for t in &mut d.truth_anonymous {
            t.customer_id = remap_opt(t.customer_id);
        }
        d.truth_anonymous.sort_unstable_by_key(|t| t.anonymous_id);
        for t in &mut d.truth_devices {
            t.customer_id = remap_opt(t.customer_id);
        }
        d.truth_devices.sort_unstable_by_key(|t| t.device_id);

        // An account exists before its first member signs up.
        for (i, first) in self.account_first_signup.iter().enumerate() {
            let created = match first {
                Some(s) => s.saturating_sub(self.rng.random_range(0..20 * DAY)),
                None => {
                    let day = sample_cdf(&mut self.rng, &self.day_cdf) as u32;
                    day * DAY + self.rng.random_range(0..DAY)
                }
            };
            if let Some(a) = self.data.accounts.get_mut(i) {
                a.created_at = ts(created);
            }
        }
        self.data.erasure_requests = erasure_requests(self.data.config.seed, &self.data.customers);
        let (links, noise) = link_noise(
            self.data.config.seed,
            &self.data.customers,
            &self.data.truth_anonymous,
        );
        self.data.identity_links.extend(links);
        self.data
            .identity_links
            .sort_unstable_by_key(|l| (l.anonymous_id, l.customer_id));
        self.data.truth_link_noise = noise;
        self.data
    }
}

/// Identity links that name nobody in particular, as real trackers produce
/// them: every junk value of [`JUNK_ANONYMOUS_IDS`] linked to a few
/// customers, and cookies of shared browsers linked to several (a kiosk, a
/// family laptop; fresh ids seen nowhere else). Drawn from their own stream
/// once everything else is final, so no other row depends on them. Each
/// link is dated after its customer's signup.
fn link_noise(
    seed: u64,
    customers: &[Customer],
    cookies: &[AnonymousTruth],
) -> (Vec<IdentityLink>, Vec<LinkNoise>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ LINK_NOISE_SEED_KEY);
    let most = SHARED_COOKIE_CUSTOMERS
        .iter()
        .copied()
        .fold(JUNK_MAX_CUSTOMERS, usize::max);
    if customers.len() < most {
        // Too few customers to link anything to several of them.
        return (Vec::new(), Vec::new());
    }
    let mut ids: Vec<(LinkAnonymousId, NoiseKind, usize)> = Vec::new();
    for junk in JUNK_ANONYMOUS_IDS {
        let k = rng.random_range(JUNK_MIN_CUSTOMERS..=JUNK_MAX_CUSTOMERS);
        ids.push((LinkAnonymousId::Junk(junk), NoiseKind::Blocked, k));
    }
    for &k in SHARED_COOKIE_CUSTOMERS {
        // A fresh cookie: not one the simulation handed out.
        let id = loop {
            let id = AnonymousId(rng.random());
            if cookies
                .binary_search_by_key(&id, |t| t.anonymous_id)
                .is_err()
                && ids.iter().all(|(other, _, _)| other.cookie() != Some(id))
            {
                break id;
            }
        };
        ids.push((LinkAnonymousId::Cookie(id), NoiseKind::Shared, k));
    }
    let signup_of = |c: &Customer| {
        let off = c.signed_up_at.and_utc().timestamp() - YEAR_START_UNIX;
        Secs::try_from(off).unwrap_or(YEAR_END).min(YEAR_END)
    };
    let mut links = Vec::new();
    let mut noise = Vec::new();
    let mut order: Vec<usize> = (0..customers.len()).collect();
    for (anonymous_id, kind, k) in ids {
        // Partial Fisher-Yates: `k` distinct customers.
        for i in 0..k {
            let j = rng.random_range(i..order.len());
            order.swap(i, j);
        }
        let mut linked = Vec::with_capacity(k);
        for &idx in &order[..k] {
            let Some(c) = customers.get(idx) else {
                continue;
            };
            let signup = signup_of(c);
            links.push(IdentityLink {
                anonymous_id,
                customer_id: c.customer_id,
                linked_at: ts(rng.random_range(signup..=YEAR_END)),
                source: if rng.random_bool(0.7) {
                    "login"
                } else {
                    "email_click"
                },
            });
            linked.push(c.customer_id);
        }
        linked.sort_unstable();
        noise.push(LinkNoise {
            anonymous_id,
            kind,
            customers: linked,
        });
    }
    (links, noise)
}

/// About 1.5% of customers (at least [`MIN_ERASURES`]) ask to be erased some
/// time after signing up. Drawn from their own stream once everything else
/// is final, so the other tables do not depend on this one. Ids follow
/// request time, as an auto-increment would.
fn erasure_requests(seed: u64, customers: &[Customer]) -> Vec<ErasureRequest> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ ERASURE_SEED_KEY);
    let signup_of = |c: &Customer| {
        let off = c.signed_up_at.and_utc().timestamp() - YEAR_START_UNIX;
        Secs::try_from(off).unwrap_or(YEAR_END)
    };
    // A request needs at least a second between signup and year end.
    let mut candidates: Vec<(i64, Secs)> = customers
        .iter()
        .map(|c| (c.customer_id, signup_of(c)))
        .filter(|&(_, signup)| signup < YEAR_END)
        .collect();
    let wanted = ((customers.len() * ERASURE_PER_MILLE + 500) / 1000)
        .max(MIN_ERASURES)
        .min(candidates.len());
    // Partial Fisher-Yates: the first `wanted` slots become a uniform sample
    // without repeats, hence one request per customer.
    for i in 0..wanted {
        let j = rng.random_range(i..candidates.len());
        candidates.swap(i, j);
    }
    candidates.truncate(wanted);
    let mut requests: Vec<ErasureRequest> = candidates
        .into_iter()
        .map(|(customer_id, signup)| {
            let room = YEAR_END - signup;
            let wait = exponential(&mut rng, 60.0 * f64::from(DAY)) as Secs;
            let wait = if wait < room {
                wait
            } else {
                rng.random_range(0..room)
            };
            ErasureRequest {
                erasure_request_id: 0,
                customer_id,
                requested_at: ts(signup + 1 + wait),
                reason: pick(&mut rng, ERASURE_REASONS),
            }
        })
        .collect();
    requests.sort_unstable_by_key(|r| (r.requested_at, r.customer_id));
    for (i, r) in requests.iter_mut().enumerate() {
        r.erasure_request_id = i as i64 + 1;
    }
    requests
}

/// How much likelier a purchase is on a given day than on an ordinary one.
fn buy_season(day: u32) -> f64 {
    let base = match day {
        BLACK_FRIDAY => 2.2,
        332 | 333 => 1.5,
        CYBER_MONDAY => 2.0,
        335..=CHRISTMAS_EVE => 1.45,
        _ if month_of(day) == 10 => 1.3,
        _ => 1.0,
    };
    if is_weekend(day) { base * 1.1 } else { base }
}
