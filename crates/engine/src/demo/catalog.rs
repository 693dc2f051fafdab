//! Fixed vocabularies of the demo warehouse. Weights are relative integers.

/// (ISO-2 country, region, currency, weight)
pub(crate) const COUNTRIES: &[(&str, &str, &str, u32)] = &[
    ("US", "NA", "USD", 220),
    ("CA", "NA", "USD", 45),
    ("DE", "EU", "EUR", 100),
    ("GB", "EU", "GBP", 85),
    ("FR", "EU", "EUR", 75),
    ("ES", "EU", "EUR", 40),
    ("IT", "EU", "EUR", 38),
    ("NL", "EU", "EUR", 30),
    ("SE", "EU", "EUR", 18),
    ("PL", "EU", "EUR", 20),
    ("BR", "LATAM", "USD", 60),
    ("MX", "LATAM", "USD", 35),
    ("AR", "LATAM", "USD", 18),
    ("CO", "LATAM", "USD", 12),
    ("CL", "LATAM", "USD", 10),
    ("JP", "APAC", "USD", 50),
    ("AU", "APAC", "USD", 40),
    ("IN", "APAC", "USD", 45),
    ("SG", "APAC", "USD", 15),
    ("KR", "APAC", "USD", 22),
];

pub(crate) const FIRST_NAMES: &[&str] = &[
    "jane", "john", "maria", "lucas", "emma", "noah", "olivia", "liam", "sofia", "mateo", "yuki",
    "hana", "arjun", "priya", "lena", "felix", "chloe", "hugo", "alice", "omar", "fatima", "diego",
    "camila", "ethan", "mia", "leon", "clara", "ines", "pablo", "ana", "kenji", "mei", "sara",
    "david", "nina", "tom", "julia", "marco", "elena", "jonas",
];

pub(crate) const LAST_NAMES: &[&str] = &[
    "doe",
    "smith",
    "garcia",
    "muller",
    "martin",
    "rossi",
    "silva",
    "tanaka",
    "kim",
    "patel",
    "nguyen",
    "johnson",
    "brown",
    "schmidt",
    "dubois",
    "lopez",
    "fernandez",
    "sato",
    "singh",
    "chen",
    "wang",
    "novak",
    "jansen",
    "berg",
    "kowalski",
    "moreau",
    "weber",
    "costa",
    "santos",
    "ito",
    "lee",
    "park",
    "wilson",
    "taylor",
    "clark",
    "fischer",
    "romero",
    "vargas",
    "diaz",
    "khan",
];

pub(crate) const EMAIL_DOMAINS: &[&str] = &["example.com", "example.org", "example.net"];

pub(crate) const ACCOUNT_PREFIXES: &[&str] = &[
    "Acme",
    "Blue",
    "Northwind",
    "Summit",
    "Bright",
    "Iron",
    "Silver",
    "Green",
    "Rapid",
    "Nova",
    "Polar",
    "Crimson",
    "Golden",
    "Quantum",
    "Atlas",
    "Cedar",
];
pub(crate) const ACCOUNT_NOUNS: &[&str] = &[
    "Harbor", "Peak", "Forge", "Field", "Wave", "Stone", "Bridge", "Point", "River", "Grid",
    "Signal", "Orbit",
];
pub(crate) const ACCOUNT_SUFFIXES: &[&str] = &[
    "Labs", "Inc", "GmbH", "Ltd", "Group", "Systems", "Co", "Partners",
];
pub(crate) const INDUSTRIES: &[(&str, u32)] = &[
    ("software", 25),
    ("retail", 20),
    ("healthcare", 10),
    ("finance", 12),
    ("manufacturing", 10),
    ("education", 8),
    ("media", 7),
    ("logistics", 8),
];
pub(crate) const PLANS: &[(&str, u32)] = &[("free", 45), ("pro", 40), ("enterprise", 15)];
pub(crate) const SEGMENTS: &[(&str, u32)] = &[("consumer", 62), ("smb", 28), ("enterprise", 10)];

/// A product category with its landing page, product nouns, brands and price
/// range in whole currency units.
pub(crate) struct Category {
    pub name: &'static str,
    pub page: &'static str,
    pub nouns: &'static [&'static str],
    pub brands: &'static [&'static str],
    pub price: (i64, i64),
    pub weight: u32,
}

pub(crate) const CATEGORIES: &[Category] = &[
    Category {
        name: "electronics",
        page: "/category/electronics",
        nouns: &[
            "Headphones",
            "Speaker",
            "Smartwatch",
            "Charger",
            "Tablet",
            "Camera",
        ],
        brands: &["Voltix", "Nordlys", "Pixelon"],
        price: (19, 899),
        weight: 22,
    },
    Category {
        name: "home",
        page: "/category/home",
        nouns: &["Lamp", "Blanket", "Vase", "Kettle", "Rug", "Shelf"],
        brands: &["Hearthly", "Casa Nova", "Nordlys"],
        price: (9, 299),
        weight: 16,
    },
    Category {
        name: "apparel",
        page: "/category/apparel",
        nouns: &["Jacket", "Sneakers", "Hoodie", "T-Shirt", "Jeans", "Scarf"],
        brands: &["Threadline", "Urban Fox", "Kaito"],
        price: (12, 249),
        weight: 18,
    },
    Category {
        name: "sports",
        page: "/category/sports",
        nouns: &[
            "Yoga Mat",
            "Dumbbells",
            "Bottle",
            "Backpack",
            "Tent",
            "Bike Light",
        ],
        brands: &["Peakform", "Urban Fox", "Trailmark"],
        price: (8, 399),
        weight: 12,
    },
    Category {
        name: "beauty",
        page: "/category/beauty",
        nouns: &["Serum", "Shampoo", "Face Cream", "Perfume", "Lip Balm"],
        brands: &["Lumière", "Botanica"],
        price: (5, 129),
        weight: 10,
    },
    Category {
        name: "books",
        page: "/category/books",
        nouns: &["Cookbook", "Novel", "Atlas", "Journal", "Guide"],
        brands: &["Inkwell Press", "Botanica"],
        price: (6, 59),
        weight: 8,
    },
    Category {
        name: "toys",
        page: "/category/toys",
        nouns: &["Puzzle", "Building Set", "Plush Bear", "Board Game", "Kite"],
        brands: &["Playmoor", "Kaito"],
        price: (7, 149),
        weight: 8,
    },
    Category {
        name: "grocery",
        page: "/category/grocery",
        nouns: &[
            "Coffee Beans",
            "Green Tea",
            "Olive Oil",
            "Chocolate",
            "Honey",
        ],
        brands: &["Botanica", "Casa Nova"],
        price: (4, 49),
        weight: 6,
    },
];

pub(crate) const PRODUCT_ADJECTIVES: &[&str] = &[
    "Classic",
    "Pro",
    "Lite",
    "Max",
    "Mini",
    "Eco",
    "Air",
    "Ultra",
    "Essential",
    "Studio",
];

/// Number of products in the catalog; independent of scale.
pub(crate) const PRODUCT_COUNT: usize = 120;

/// (device type, weight for a person's first device, weight for further ones)
pub(crate) const DEVICE_TYPES: &[(&str, u32, u32)] =
    &[("mobile", 55, 35), ("desktop", 40, 45), ("tablet", 5, 20)];
pub(crate) const OS_DESKTOP: &[(&str, u32)] = &[
    ("Windows", 60),
    ("macOS", 30),
    ("Linux", 5),
    ("ChromeOS", 5),
];
pub(crate) const OS_MOBILE: &[(&str, u32)] = &[("Android", 55), ("iOS", 45)];
pub(crate) const OS_TABLET: &[(&str, u32)] = &[("iPadOS", 60), ("Android", 40)];

/// Channel of a person's very first visit (the customer's acquisition channel).
pub(crate) const FIRST_CHANNELS: &[(&str, u32)] = &[
    ("paid_search", 22),
    ("organic_search", 25),
    ("social", 15),
    ("display", 6),
    ("affiliate", 5),
    ("referral", 7),
    ("direct", 20),
];
/// Channels of returning visits; e-mail only for customers with marketing consent.
pub(crate) const RETURN_CHANNELS: &[(&str, u32)] = &[
    ("direct", 35),
    ("organic_search", 20),
    ("paid_search", 12),
    ("email", 15),
    ("social", 8),
    ("display", 3),
    ("affiliate", 3),
    ("referral", 4),
];

/// Pages a visitor lands on, per channel.
pub(crate) fn landing_pages(channel: &str) -> &'static [(&'static str, u32)] {
    match channel {
        "paid_search" => &[("/", 20), ("/deals", 20), ("@category", 60)],
        "organic_search" => &[("/blog", 30), ("/", 25), ("@category", 35), ("/help", 10)],
        "email" => &[("/deals", 50), ("/", 20), ("@category", 30)],
        "social" => &[("/deals", 40), ("/", 25), ("@category", 35)],
        "display" => &[("/", 40), ("/deals", 40), ("@category", 20)],
        "affiliate" => &[("/deals", 50), ("@category", 50)],
        "referral" => &[("/blog", 40), ("/", 40), ("/pricing", 20)],
        _ => &[
            ("/", 70),
            ("/account", 10),
            ("/search", 10),
            ("@category", 10),
        ],
    }
}

/// Non-product pages visited while browsing; `@category` stands for the
/// page of a category.
pub(crate) const BROWSE_PAGES: &[(&str, u32)] = &[
    ("/", 15),
    ("/search", 20),
    ("@category", 35),
    ("/deals", 10),
    ("/blog", 6),
    ("/pricing", 4),
    ("/help", 5),
    ("/account", 5),
];

pub(crate) const PAGE_PRODUCT: &str = "/product";
pub(crate) const PAGE_SIGNUP: &str = "/signup";
pub(crate) const PAGE_LOGIN: &str = "/login";
pub(crate) const PAGE_CHECKOUT: &str = "/checkout";
pub(crate) const PAGE_CONFIRMATION: &str = "/checkout/confirmation";

pub(crate) const PAID_SEARCH_CAMPAIGNS: &[&str] = &[
    "brand_search",
    "generic_search",
    "shopping_ads",
    "competitor_search",
];
pub(crate) const DISPLAY_CAMPAIGNS: &[&str] = &["retargeting", "prospecting_display"];
pub(crate) const SOCIAL_CAMPAIGNS: &[&str] = &["always_on_social", "creator_collab"];
pub(crate) const EMAIL_CAMPAIGNS: &[&str] = &[
    "weekly_newsletter",
    "welcome_series",
    "cart_reminder",
    "winback",
];

pub(crate) const SEARCH_ENGINES: &[(&str, u32)] = &[
    ("google", 85),
    ("bing", 8),
    ("duckduckgo", 4),
    ("ecosia", 3),
];
pub(crate) const PAID_SEARCH_SOURCES: &[(&str, u32)] = &[("google", 78), ("bing", 22)];
pub(crate) const SOCIAL_SOURCES: &[(&str, u32)] = &[
    ("facebook", 30),
    ("instagram", 30),
    ("tiktok", 20),
    ("linkedin", 10),
    ("pinterest", 10),
];
pub(crate) const DISPLAY_SOURCES: &[(&str, u32)] = &[("gdn", 50), ("criteo", 30), ("taboola", 20)];
pub(crate) const AFFILIATE_SOURCES: &[(&str, u32)] = &[("awin", 40), ("rakuten", 35), ("cj", 25)];
pub(crate) const REFERRAL_SOURCES: &[(&str, u32)] = &[
    ("blog.example.net", 30),
    ("news.example.org", 25),
    ("reddit.com", 25),
    ("producthunt.com", 20),
];
pub(crate) const EMAIL_SOURCES: &[(&str, u32)] = &[("newsletter", 70), ("crm", 30)];

pub(crate) const CONSENT_PURPOSES: &[(&str, f64)] = &[
    ("analytics", 0.92),
    ("marketing", 0.60),
    ("personalization", 0.72),
    ("ads", 0.45),
];

/// Why a customer asked to be left out (GDPR art. 17 erasure, art. 21
/// objection, or a suppression-list request).
pub(crate) const ERASURE_REASONS: &[(&str, u32)] =
    &[("erasure", 60), ("objection", 25), ("suppression", 15)];

/// What broken trackers write where a cookie id belongs: placeholders and
/// test ids. Each one, trimmed and lower-cased, is a value the demo's
/// identity definitions block (`metric_defs/identity.yml`) or matches their
/// `test%` pattern. They are pairwise different even for a collation that
/// ignores case and trailing spaces (MariaDB's default), so the primary key
/// holds and `COUNT(DISTINCT anonymous_id)` agrees on every engine.
pub(crate) const JUNK_ANONYMOUS_IDS: &[&str] = &[
    "",
    "0",
    "-1",
    "null",
    "undefined",
    "anonymous",
    " Anonymous ",
    " NULL",
    "  undefined",
    " -1 ",
    "test",
    "test_user_17",
    "TEST-checkout-bot",
    " Test Cookie ",
];

/// How many customers each shared (kiosk, family) browser cookie is linked
/// to.
pub(crate) const SHARED_COOKIE_CUSTOMERS: &[usize] = &[4, 2];

pub(crate) const TICKET_PRIORITIES: &[(&str, u32)] =
    &[("low", 25), ("normal", 50), ("high", 18), ("urgent", 7)];
pub(crate) const ORDER_TICKET_CATEGORIES: &[(&str, u32)] = &[
    ("delivery", 40),
    ("product_question", 25),
    ("billing", 15),
    ("returns", 10),
    ("technical", 10),
];
pub(crate) const ACCOUNT_TICKET_CATEGORIES: &[(&str, u32)] =
    &[("account", 50), ("technical", 30), ("billing", 20)];

/// Hour-of-day weights (UTC) on weekdays and at weekends.
pub(crate) const HOURS_WEEKDAY: [u32; 24] = [
    2, 1, 1, 1, 1, 2, 4, 6, 8, 9, 9, 10, 12, 12, 10, 9, 9, 10, 12, 14, 15, 13, 9, 5,
];
pub(crate) const HOURS_WEEKEND: [u32; 24] = [
    4, 3, 2, 1, 1, 1, 2, 3, 5, 8, 11, 12, 12, 12, 11, 11, 11, 11, 12, 13, 13, 11, 8, 6,
];

/// Relative traffic per month (January first): a quiet summer and a
/// November/December peak.
pub(crate) const MONTH_WEIGHTS: [f64; 12] = [
    0.92, 0.85, 0.95, 0.97, 1.0, 0.95, 0.88, 0.9, 1.0, 1.05, 1.4, 1.65,
];
/// Relative traffic per weekday (Monday first).
pub(crate) const WEEKDAY_WEIGHTS: [f64; 7] = [1.0, 1.02, 1.0, 0.98, 0.94, 0.76, 0.82];
