//! The simulated portal's population: users with home cities, addresses and browsers, groups,
//! rooms with folders and files. Generated deterministically from the seed; small and immutable.

use std::collections::HashSet;
use std::ops::Range;

use chrono_tz::{America, Asia, Australia, Europe, Tz};

use super::dates::offset_secs_at;
use super::guid::uuid_from;
use super::weighted::WeightedIndex;

/// Mail domain of the simulated organization.
pub(crate) const MAIL_DOMAIN: &str = "acme-corp.example";

/// A city users work from, with the network their addresses come from.
#[derive(Debug)]
pub(crate) struct Place {
    pub country: &'static str,
    pub city: &'static str,
    pub tz: Tz,
    /// First three octets of an IPv4 documentation network.
    pub net: &'static str,
}

const fn place(country: &'static str, city: &'static str, tz: Tz, net: &'static str) -> Place {
    Place {
        country,
        city,
        tz,
        net,
    }
}

impl Place {
    /// A random IPv4 address of the place's network.
    pub fn address(&self, rng: &mut fastrand::Rng) -> String {
        format!("{}.{}", self.net, rng.u8(2..=254))
    }
}

/// Cities of the organization's offices and remote workers.
pub(crate) const PLACES: &[Place] = &[
    place("Germany", "Berlin", Europe::Berlin, "203.0.113"),
    place("Germany", "Munich", Europe::Berlin, "203.0.113"),
    place("United Kingdom", "London", Europe::London, "198.51.100"),
    place("France", "Paris", Europe::Paris, "198.51.100"),
    place("Netherlands", "Amsterdam", Europe::Amsterdam, "192.0.2"),
    place("Latvia", "Riga", Europe::Riga, "192.0.2"),
    place("United States", "New York", America::New_York, "198.51.100"),
    place(
        "United States",
        "San Francisco",
        America::Los_Angeles,
        "203.0.113",
    ),
    place("Canada", "Toronto", America::Toronto, "192.0.2"),
    place("Spain", "Madrid", Europe::Madrid, "203.0.113"),
    place("Italy", "Milan", Europe::Rome, "198.51.100"),
    place("Poland", "Warsaw", Europe::Warsaw, "192.0.2"),
    place("Japan", "Tokyo", Asia::Tokyo, "203.0.113"),
    place("India", "Bengaluru", Asia::Kolkata, "198.51.100"),
    place("Brazil", "São Paulo", America::Sao_Paulo, "192.0.2"),
    place("Sweden", "Stockholm", Europe::Stockholm, "203.0.113"),
    place("Australia", "Sydney", Australia::Sydney, "198.51.100"),
];

/// `(first name, last name, mail local part, place, home room, admin, IPv6 home address)`.
type PersonRow = (
    &'static str,
    &'static str,
    &'static str,
    usize,
    usize,
    bool,
    bool,
);

const PEOPLE: &[PersonRow] = &[
    ("Olivia", "Bennett", "olivia.bennett", 2, 6, true, false),
    ("Marcus", "Weber", "marcus.weber", 0, 3, true, false),
    ("Priya", "Raman", "priya.raman", 13, 2, true, false),
    ("Jane", "Smith", "jane.smith", 0, 0, false, false),
    ("John", "Doe", "john.doe", 6, 4, false, false),
    ("Lukas", "Schneider", "lukas.schneider", 1, 3, false, true),
    ("Sofia", "Rossi", "sofia.rossi", 10, 5, false, false),
    ("Mateo", "García", "mateo.garcia", 9, 4, false, false),
    ("Emma", "Johansson", "emma.johansson", 15, 1, false, false),
    ("Noah", "Williams", "noah.williams", 7, 3, false, false),
    ("Chloé", "Martin", "chloe.martin", 3, 0, false, false),
    ("Hiroshi", "Tanaka", "hiroshi.tanaka", 12, 3, false, false),
    ("Anna", "Kowalska", "anna.kowalska", 11, 1, false, false),
    ("Daniel", "Cohen", "daniel.cohen", 6, 0, false, true),
    ("Aisha", "Khan", "aisha.khan", 2, 2, false, false),
    ("Thomas", "Müller", "thomas.mueller", 1, 7, false, false),
    ("Elena", "Petrova", "elena.petrova", 5, 3, false, false),
    ("Liam", "O'Connor", "liam.oconnor", 2, 4, false, false),
    ("Mei", "Lin", "mei.lin", 16, 5, false, false),
    ("Carlos", "Silva", "carlos.silva", 14, 4, false, true),
    ("Fatima", "Haddad", "fatima.haddad", 4, 1, false, false),
    ("Oliver", "Brown", "oliver.brown", 8, 3, false, false),
    ("Ingrid", "Larsen", "ingrid.larsen", 15, 6, false, false),
    ("Rahul", "Mehta", "rahul.mehta", 13, 3, false, false),
    ("Sarah", "Miller", "sarah.miller", 7, 7, false, false),
];

/// `(browser, platform)` pairs as the server's user-agent parser reports them.
pub(crate) const DESKTOP_CLIENTS: &[(&str, &str)] = &[
    ("Chrome 134", "Windows 10"),
    ("Chrome 133", "Windows 10"),
    ("Edge 134", "Windows 10"),
    ("Firefox 136", "Windows 10"),
    ("Chrome 134", "Mac OS X 10"),
    ("Safari 18", "Mac OS X 10"),
    ("Firefox 136", "Ubuntu"),
    ("Chrome 134", "Linux"),
];

/// Mobile `(browser, platform)` pairs.
pub(crate) const MOBILE_CLIENTS: &[(&str, &str)] = &[
    ("Mobile Safari 18", "iOS 18 Apple iPhone"),
    ("Chrome Mobile 134", "Android 14 Samsung SM-S918B"),
    ("Chrome Mobile 133", "Android 15 Google Pixel 8"),
];

/// `(room id, title, relative activity, subfolders, file-name templates)`.
type RoomRow = (
    i64,
    &'static str,
    u32,
    &'static [&'static str],
    &'static [&'static str],
);

const ROOMS: &[RoomRow] = &[
    (
        1045,
        "Legal",
        14,
        &["Contracts", "NDAs", "Litigation"],
        &[
            "Q{q}-contract.pdf",
            "Q{q}-contract-{company}.pdf",
            "NDA-{company}.docx",
            "Master-Services-Agreement-{company}.docx",
            "Data-Processing-Agreement-{company}.pdf",
            "Legal-Opinion-{year}-{n}.docx",
            "Trademark-Filing-{year}.pdf",
        ],
    ),
    (
        1046,
        "Finance",
        16,
        &["Invoices", "Budgets", "Tax"],
        &[
            "Budget-{year}.xlsx",
            "Invoice-{year}-{n4}.pdf",
            "Q{q}-{year}-financial-report.xlsx",
            "Expense-Report-{month}-{year}.xlsx",
            "Tax-Return-{year}.pdf",
            "Cash-Flow-Forecast-Q{q}.xlsx",
        ],
    ),
    (
        1047,
        "HR",
        10,
        &["Personnel Files", "Policies", "Recruiting"],
        &[
            "Employee-Handbook-{year}.docx",
            "Offer-Letter-{person}.docx",
            "Performance-Review-{person}-{year}.docx",
            "Onboarding-Checklist.xlsx",
            "Payroll-{month}-{year}.xlsx",
            "Remote-Work-Policy.pdf",
        ],
    ),
    (
        1048,
        "Engineering",
        22,
        &["Specs", "Architecture", "Releases"],
        &[
            "Architecture-Overview.docx",
            "API-Spec-v{v}.docx",
            "Release-Notes-{v}.md",
            "Incident-Postmortem-{year}-{n}.docx",
            "Roadmap-{year}.pptx",
            "Load-Test-Results-{month}.xlsx",
            "Security-Review-{company}.pdf",
        ],
    ),
    (
        1049,
        "Sales",
        16,
        &["Proposals", "Price Lists"],
        &[
            "Proposal-{company}.pptx",
            "Price-List-{year}.xlsx",
            "Pipeline-Q{q}.xlsx",
            "Quote-{n4}-{company}.pdf",
            "Customer-List-{month}.csv",
        ],
    ),
    (
        1050,
        "Marketing",
        10,
        &["Campaigns", "Brand Assets"],
        &[
            "Brand-Guidelines.pdf",
            "Campaign-Plan-Q{q}.pptx",
            "Press-Release-{month}.docx",
            "Logo-Final-v{v}.png",
            "Webinar-Script-{n}.docx",
        ],
    ),
    (
        1051,
        "Management",
        6,
        &["Board Meetings", "Strategy"],
        &[
            "Board-Minutes-{month}-{year}.docx",
            "Strategy-{year}.pptx",
            "OKRs-Q{q}-{year}.xlsx",
            "Risk-Register-{year}.xlsx",
        ],
    ),
    (
        1052,
        "Procurement",
        6,
        &["Vendors", "Purchase Orders"],
        &[
            "Vendor-Assessment-{company}.xlsx",
            "PO-{n4}.pdf",
            "RFP-{company}.docx",
            "Supplier-Contract-{company}.pdf",
        ],
    ),
];

const COMPANIES: &[&str] = &[
    "Acme",
    "Globex",
    "Initech",
    "Umbrella",
    "Hooli",
    "Vandelay",
    "Soylent",
    "Tyrell",
    "Wonka",
    "Cyberdyne",
    "Stark",
    "Wayne",
];

const MONTHS: &[&str] = &[
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

const GROUPS: &[&str] = &[
    "Legal Team",
    "Finance Team",
    "People & Culture",
    "Engineering",
    "Sales EMEA",
    "Sales Americas",
    "Board",
];

/// Room roles as shown in access-change texts.
pub(crate) const ROOM_ROLES: &[&str] = &[
    "Room admin",
    "Power user",
    "Editor",
    "Content creator",
    "Form filler",
    "Reviewer",
    "Commenter",
    "Viewer",
];

/// Room tags used in tag events.
pub(crate) const TAGS: &[&str] = &[
    "confidential",
    "contracts",
    "urgent",
    "q-review",
    "archive",
    "external",
];

/// Titles of external/shared links.
pub(crate) const LINK_TITLES: &[&str] = &[
    "Shared link",
    "Link for auditors",
    "Partner access",
    "Client review",
];

/// A portal member.
#[derive(Debug)]
pub(crate) struct User {
    /// Lowercase hyphenated UUID.
    pub id: String,
    /// `"First Last"`.
    pub display_name: String,
    /// Login e-mail.
    pub email: String,
    /// Index into [`PLACES`].
    pub place: usize,
    /// Usual `ip` value (already truncated like the server does for IPv6).
    pub home_ip: String,
    /// Whether GeoIP resolves the home address (not for truncated IPv6).
    pub home_geo: bool,
    /// Index into [`DESKTOP_CLIENTS`].
    pub desktop: usize,
    /// Index into [`MOBILE_CLIENTS`].
    pub mobile: usize,
    /// UTC offset of the user's city, seconds (at the middle of the event window).
    pub offset_secs: i32,
    /// DocSpace admin or owner.
    pub admin: bool,
    /// Index into [`World::rooms`] of the user's department room.
    pub home_room: usize,
}

/// A room (top-level shared folder).
#[derive(Debug)]
pub(crate) struct Room {
    pub id: i64,
    pub title: &'static str,
}

/// A folder inside a room.
#[derive(Debug)]
pub(crate) struct Folder {
    pub id: i64,
    pub room: usize,
    pub title: &'static str,
}

/// A file inside a room.
#[derive(Debug)]
pub(crate) struct FileItem {
    pub id: i64,
    pub room: usize,
    pub title: String,
}

/// A user group.
#[derive(Debug)]
pub(crate) struct Group {
    pub id: String,
    pub name: &'static str,
}

/// Everything events refer to.
#[derive(Debug)]
pub(crate) struct World {
    pub users: Vec<User>,
    pub groups: Vec<Group>,
    pub rooms: Vec<Room>,
    pub folders: Vec<Folder>,
    pub files: Vec<FileItem>,
    /// Per room, the range of its files in [`World::files`].
    pub files_by_room: Vec<Range<usize>>,
    /// Per room, the range of its folders in [`World::folders`].
    pub folders_by_room: Vec<Range<usize>>,
    /// Draws a user by activity.
    pub user_weights: WeightedIndex,
    /// Draws an admin by activity.
    pub admin_weights: WeightedIndex,
    /// Draws a room by activity.
    pub room_weights: WeightedIndex,
}

impl World {
    /// Builds the population for `seed`; `mid_ts` (a UTC timestamp) fixes the users' offsets.
    pub fn generate(seed: u64, year: i32, mid_ts: i64) -> Self {
        let mut rng = fastrand::Rng::with_seed(seed ^ 0x005E_ED0F_0000_0001);
        let rooms: Vec<Room> = ROOMS
            .iter()
            .map(|&(id, title, ..)| Room { id, title })
            .collect();

        let mut users = Vec::with_capacity(PEOPLE.len());
        let mut activity = Vec::with_capacity(PEOPLE.len());
        for &(first, last, local, place, home_room, admin, ipv6) in PEOPLE {
            let id = uuid_from(&mut rng);
            let home_ip = if ipv6 {
                // The server keeps only what precedes the first ':' (`2001:db8::…` → `2001`).
                "2001".to_owned()
            } else {
                PLACES[place].address(&mut rng)
            };
            users.push(User {
                id,
                display_name: format!("{first} {last}"),
                email: format!("{local}@{MAIL_DOMAIN}"),
                place,
                home_ip,
                home_geo: !ipv6,
                desktop: rng.usize(..DESKTOP_CLIENTS.len()),
                mobile: rng.usize(..MOBILE_CLIENTS.len()),
                offset_secs: offset_secs_at(PLACES[place].tz, mid_ts),
                admin,
                home_room,
            });
            activity.push(rng.u32(2..=12));
        }
        let admin_activity: Vec<u32> = users
            .iter()
            .zip(&activity)
            .map(|(u, &a)| if u.admin { a } else { 0 })
            .collect();

        let groups = GROUPS
            .iter()
            .map(|&name| Group {
                id: uuid_from(&mut rng),
                name,
            })
            .collect();

        let mut folder_id = 2101;
        let (folders, folders_by_room) = by_room(|room, &(_, _, _, subfolders, _)| {
            let mut folders = Vec::with_capacity(subfolders.len());
            for &title in subfolders {
                folders.push(Folder {
                    id: folder_id,
                    room,
                    title,
                });
                folder_id += rng.i64(1..=3);
            }
            folders
        });

        let mut file_id = 23_801;
        let (files, files_by_room) = by_room(|room, &(_, _, _, _, templates)| {
            let mut files = Vec::new();
            let mut seen = HashSet::new();
            let wanted = rng.usize(24..=40);
            let mut attempts = 0;
            while files.len() < wanted && attempts < wanted * 6 {
                attempts += 1;
                let template = templates[rng.usize(..templates.len())];
                let title = fill_template(template, &mut rng, year, &users);
                if seen.insert(title.clone()) {
                    files.push(FileItem {
                        id: file_id,
                        room,
                        title,
                    });
                    file_id += rng.i64(1..=7);
                }
            }
            files
        });

        Self {
            user_weights: WeightedIndex::new(activity),
            admin_weights: WeightedIndex::new(admin_activity),
            room_weights: WeightedIndex::new(ROOMS.iter().map(|r| r.2)),
            users,
            groups,
            rooms,
            folders,
            files,
            files_by_room,
            folders_by_room,
        }
    }
}

/// The items `of_room` makes for each room, in room order, with the range of each room's
/// items.
fn by_room<T>(mut of_room: impl FnMut(usize, &RoomRow) -> Vec<T>) -> (Vec<T>, Vec<Range<usize>>) {
    let mut items = Vec::new();
    let mut ranges = Vec::with_capacity(ROOMS.len());
    for (room, row) in ROOMS.iter().enumerate() {
        let start = items.len();
        items.extend(of_room(room, row));
        ranges.push(start..items.len());
    }
    (items, ranges)
}

fn fill_template(template: &str, rng: &mut fastrand::Rng, year: i32, users: &[User]) -> String {
    let mut out = template.to_owned();
    let replacements: [(&str, String); 7] = [
        ("{q}", rng.u8(1..=4).to_string()),
        ("{year}", (year - i32::from(rng.u8(0..=1))).to_string()),
        (
            "{company}",
            COMPANIES[rng.usize(..COMPANIES.len())].to_owned(),
        ),
        (
            "{person}",
            users
                .get(rng.usize(..users.len().max(1)))
                .map(|u| u.display_name.replace(' ', "-"))
                .unwrap_or_default(),
        ),
        ("{month}", MONTHS[rng.usize(..MONTHS.len())].to_owned()),
        ("{n4}", format!("{:04}", rng.u16(1..9999))),
        ("{v}", format!("{}.{}", rng.u8(1..=4), rng.u8(0..=9))),
    ];
    for (key, value) in replacements {
        out = out.replace(key, &value);
    }
    out.replace("{n}", &rng.u8(1..=30).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn population_is_realistic_and_deterministic() {
        let a = World::generate(7, 2025, 1_740_000_000);
        let b = World::generate(7, 2025, 1_740_000_000);
        assert_eq!(a.users.len(), 25);
        assert!(a.users.iter().filter(|u| u.admin).count() >= 2);
        assert!(a.users.iter().any(|u| u.home_ip == "2001"));
        for (x, y) in a.users.iter().zip(&b.users) {
            assert_eq!(x.id, y.id);
            assert_eq!(x.home_ip, y.home_ip);
            assert_eq!(x.id, x.id.to_lowercase());
            assert_eq!(x.id.len(), 36);
        }
        let titles_a: Vec<_> = a.files.iter().map(|f| &f.title).collect();
        let titles_b: Vec<_> = b.files.iter().map(|f| &f.title).collect();
        assert_eq!(titles_a, titles_b);
        assert!(a.rooms.iter().any(|r| r.title == "Legal" && r.id == 1045));
        for (room, range) in a.files_by_room.iter().enumerate() {
            assert!(range.len() >= 10, "room {room} has few files");
            assert!(a.files[range.clone()].iter().all(|f| f.room == room));
        }
        let ids: HashSet<_> = a.files.iter().map(|f| f.id).collect();
        assert_eq!(ids.len(), a.files.len());
        let other = World::generate(8, 2025, 1_740_000_000);
        assert_ne!(a.users[0].id, other.users[0].id);
    }
}
