//! The fixed cast of one generator: people, places, devices, spaces and Webex Connect services.
//!
//! Real audit trails are about a stable set of actors and objects: the same few admins log in every morning,
//! the same rooms get messages. So the world is drawn once, from its own stream, before any event is
//! generated; every event kind then refers into it, and a person's id, email, IP and browser stay the same
//! across admin, compliance and Connect events.

use rand::Rng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use crate::ids::{digits, one_of, pick, random_id};

/// Size of the population; the first [`ADMINS`] are administrators, the first [`HEAVY`] of them do most work.
pub(crate) const PEOPLE: usize = 40;
pub(crate) const ADMINS: usize = 10;
pub(crate) const HEAVY: usize = 3;

/// Control Hub roles of an admin and the event categories such an admin can produce (`None` = all).
pub(crate) struct RoleProfile {
    pub roles: &'static [&'static str],
    pub categories: Option<&'static [&'static str]>,
}

const FULL_ADMIN: RoleProfile = RoleProfile { roles: &["User", "Full_Admin", "id_full_admin"], categories: None };
const USER: RoleProfile = RoleProfile { roles: &["User"], categories: Some(&["LOGINS", "LOGOUT"]) };
/// Profiles of people 0..ADMINS (the first [`HEAVY`] are full admins); everyone after is a plain user.
const ADMIN_PROFILES: [RoleProfile; ADMINS] = [
    FULL_ADMIN,
    FULL_ADMIN,
    FULL_ADMIN,
    RoleProfile {
        roles: &["User", "User_Admin", "id_user_admin"],
        categories: Some(&["LOGINS", "LOGOUT", "USERS", "LICENSES", "GROUPS"]),
    },
    RoleProfile {
        roles: &["User", "Device_Admin", "id_device_admin"],
        categories: Some(&["LOGINS", "LOGOUT", "DEVICES", "LOCATIONS", "WEBEX_CALLING"]),
    },
    RoleProfile {
        roles: &["User", "Compliance_Officer"],
        categories: Some(&["LOGINS", "LOGOUT", "COMPLIANCE", "MESSAGING"]),
    },
    RoleProfile { roles: &["User", "Readonly_Admin", "id_readonly_admin"], categories: Some(&["LOGINS", "LOGOUT"]) },
    RoleProfile {
        roles: &["User", "Support_Admin", "id_support_admin"],
        categories: Some(&["LOGINS", "LOGOUT", "USERS", "MEETINGS"]),
    },
    FULL_ADMIN,
    RoleProfile {
        roles: &["User", "Location_Full_Admin"],
        categories: Some(&["LOGINS", "LOGOUT", "LOCATIONS", "WEBEX_CALLING", "DEVICES"]),
    },
];

const FIRST_NAMES: [&str; PEOPLE] = [
    "Jane", "Marcus", "Priya", "Tomas", "Aisha", "Daniel", "Mei", "Oliver", "Sofia", "Kwame", "Hannah", "Luis", "Yuki",
    "Ethan", "Fatima", "Noah", "Ingrid", "Rahul", "Chloe", "Mateo", "Grace", "Samuel", "Elena", "Victor", "Amara",
    "Lucas", "Nadia", "Owen", "Leila", "Henry", "Zara", "Felix", "Maya", "Isaac", "Ruth", "Andre", "Clara", "Diego",
    "Nora", "Kenji",
];
const LAST_NAMES: [&str; PEOPLE] = [
    "Doe", "Chen", "Patel", "Novak", "Okafor", "Smith", "Wang", "Brown", "Rossi", "Mensah", "Schmidt", "Garcia",
    "Tanaka", "Walker", "Haddad", "Kim", "Larsen", "Sharma", "Martin", "Lopez", "Nguyen", "Adams", "Petrova", "Dubois",
    "Eze", "Silva", "Karimi", "Murphy", "Rahman", "Clarke", "Ahmed", "Weber", "Reyes", "Cohen", "Baker", "Moreau",
    "Fischer", "Ramos", "Kelly", "Sato",
];

/// Browsers admins really use against Control Hub, plus the SDKs scripts use.
const BROWSER_AGENTS: [&str; 6] = [
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36 Edg/124.0.2478.67",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4_1) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4.1 Safari/605.1.15",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) Gecko/20100101 Firefox/125.0",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/123.0.0.0 Safari/537.36",
];
pub(crate) const API_AGENTS: [&str; 2] = ["python-requests/2.31.0", "wxc_sdk/1.20.0 python-httpx/0.27.0"];

/// Public /16s an office egress might sit in, and first octets of large consumer ISPs for home IPs.
const OFFICE_PREFIXES: [(u8, u8); 6] = [(128, 107), (64, 104), (173, 39), (66, 163), (12, 190), (38, 140)];
const HOME_FIRST_OCTETS: [u8; 10] = [73, 98, 24, 71, 108, 174, 76, 67, 99, 47];

const LOCATION_NAMES: [&str; 8] =
    ["San Jose HQ", "New York Office", "London", "Bangalore", "Austin Warehouse", "Toronto", "Sydney", "Berlin"];
const DEVICE_MODELS: [&str; 7] =
    ["Room Kit Pro", "Desk Pro", "Board Pro 55", "Room Bar", "Cisco 8865", "Cisco 9861", "Desk Mini"];
const DEVICE_PLACES: [&str; 8] =
    ["Board Room", "Huddle", "Focus Room", "Reception", "Front Desk", "Hot Desk", "Training Room", "Lab"];
const GROUP_NAMES: [&str; 8] =
    ["Sales", "Engineering", "Support", "Finance", "Marketing", "Executives", "Contractors", "Help Desk"];
#[rustfmt::skip]
const ROOM_TITLES: [&str; 12] = [
    "Project Phoenix", "Sales Team", "Engineering Standup", "IT Help Desk", "Q3 Planning", "Customer Escalations",
    "Marketing Launch", "Finance Close", "Release Coordination", "All Hands", "Security Incidents", "Office Facilities",
];
const CONNECT_SERVICES: [&str; 5] =
    ["Customer Care", "Appointment Reminders", "Order Notifications", "Marketing Campaigns", "Field Service"];
#[rustfmt::skip]
const CONNECT_APPS: [&str; 9] = [
    "MobileWebTypeApp", "Facebook Messenger", "WhatsApp Business", "SMS Alerts", "Apple Messages", "Web Chat Widget",
    "RCS Channel", "Email Relay", "Voice IVR",
];
#[rustfmt::skip]
const CONNECT_FLOWS: [&str; 9] = [
    "Order Status Flow", "Appointment Reminder", "OTP Verification", "Survey Bot", "Agent Handoff", "Opt-out Handler",
    "Delivery Updates", "Payment Reminder", "Lead Capture",
];
/// Connect platform roles of the Connect actors (people 0, 1 and 10..16), heaviest users first.
#[rustfmt::skip]
const CONNECT_ROLES: [(usize, &str); 8] = [
    (0, "Owner"), (10, "Developer"), (1, "Admin"), (11, "Developer"), (12, "Admin"), (13, "Developer"), (14, "Analyst"),
    (15, "Supervisor"),
];

pub(crate) struct Person {
    pub name: String,
    pub first: &'static str,
    pub email: String,
    pub id: String,
    pub profile: &'static RoleProfile,
    pub ip: String,
    pub user_agent: &'static str,
    pub extension: String,
    pub number: String,
}

/// Something with an id and a display name (locations, devices, groups, rooms).
pub(crate) struct Named {
    pub id: String,
    pub name: String,
}

pub(crate) struct Room {
    pub id: String,
    pub title: String,
    pub kind: &'static str,
}

pub(crate) struct Service {
    pub id: String,
    pub group_id: String,
    pub name: &'static str,
    pub apps: Vec<&'static str>,
    pub flows: Vec<&'static str>,
}

pub(crate) struct World {
    pub org_id: String,
    pub org_name: String,
    pub site: Named,
    pub people: Vec<Person>,
    pub locations: Vec<Named>,
    pub devices: Vec<Named>,
    pub groups: Vec<Named>,
    pub rooms: Vec<Room>,
    pub bot_app_ids: Vec<String>,
    pub services: Vec<Service>,
    pub connect_actors: Vec<(usize, &'static str)>,
}

/// `Acme Inc.` → `acme`: the organization name without legal suffixes and punctuation.
fn slug(org_name: &str) -> String {
    const SUFFIXES: [&str; 10] = ["inc", "llc", "ltd", "corp", "corporation", "co", "gmbh", "plc", "sa", "ag"];
    let slug: String = org_name
        .split_whitespace()
        .map(|w| w.chars().filter(char::is_ascii_alphanumeric).collect::<String>().to_ascii_lowercase())
        .filter(|w| !w.is_empty() && !SUFFIXES.contains(&w.as_str()))
        .collect();
    if slug.is_empty() { "example".to_owned() } else { slug }
}

fn shuffled<T: Copy>(rng: &mut ChaCha8Rng, items: &[T]) -> Vec<T> {
    let mut v = items.to_vec();
    v.shuffle(rng);
    v
}

fn octet(rng: &mut ChaCha8Rng) -> u8 {
    rng.random_range(1..=254)
}

impl World {
    pub fn build(rng: &mut ChaCha8Rng, org_id: &str, org_name: &str) -> World {
        let slug = slug(org_name);
        let domain = format!("{slug}.com");
        let (a, b) = *pick(rng, &OFFICE_PREFIXES);
        let office_ips =
            [format!("{a}.{b}.{}.{}", octet(rng), octet(rng)), format!("{a}.{b}.{}.{}", octet(rng), octet(rng))];
        let area = *pick(rng, &["408", "415", "212", "312", "512", "617", "206"]);
        let exchange = rng.random_range(200..=989);
        let firsts = shuffled(rng, &FIRST_NAMES);
        let lasts = shuffled(rng, &LAST_NAMES);
        let people = firsts
            .iter()
            .zip(&lasts)
            .enumerate()
            .map(|(i, (first, last))| {
                let ip = if rng.random_bool(0.6) {
                    pick(rng, &office_ips).clone()
                } else {
                    format!("{}.{}.{}.{}", pick(rng, &HOME_FIRST_OCTETS), octet(rng), octet(rng), octet(rng))
                };
                Person {
                    name: format!("{first} {last}"),
                    first,
                    email: format!("{}.{}@{domain}", first.to_ascii_lowercase(), last.to_ascii_lowercase()),
                    id: random_id(rng, "PEOPLE"),
                    profile: ADMIN_PROFILES.get(i).unwrap_or(&USER),
                    ip,
                    user_agent: one_of(rng, &BROWSER_AGENTS),
                    extension: format!("{}", 2100 + i),
                    number: format!("+1{area}{exchange}{}", 2100 + i),
                }
            })
            .collect();
        let named = |rng: &mut ChaCha8Rng, kind: &str, names: Vec<String>| -> Vec<Named> {
            names.into_iter().map(|name| Named { id: random_id(rng, kind), name }).collect()
        };
        let location_names = shuffled(rng, &LOCATION_NAMES)[..6].iter().map(|s| (*s).to_owned()).collect();
        let locations = named(rng, "LOCATION", location_names);
        let device_names = (0..10)
            .map(|_| {
                format!("{} - {} {}", pick(rng, &DEVICE_MODELS), pick(rng, &DEVICE_PLACES), rng.random_range(1..12))
            })
            .collect();
        let devices = named(rng, "DEVICE", device_names);
        let group_names = shuffled(rng, &GROUP_NAMES)[..5].iter().map(|s| (*s).to_owned()).collect();
        let groups = named(rng, "GROUP", group_names);
        let mut rooms: Vec<Room> = ROOM_TITLES
            .iter()
            .map(|title| Room { id: random_id(rng, "ROOM"), title: (*title).to_owned(), kind: "group" })
            .collect();
        for i in 0..4 {
            let title = format!("{} {}", firsts[ADMINS + i], lasts[ADMINS + i]);
            rooms.push(Room { id: random_id(rng, "ROOM"), title, kind: "direct" });
        }
        let bot_app_ids = (0..3).map(|_| random_id(rng, "APPLICATION")).collect();
        let group_ids = [format!("{}", rng.random_range(1..40)), format!("{}", rng.random_range(40..400))];
        let apps = shuffled(rng, &CONNECT_APPS);
        let flows = shuffled(rng, &CONNECT_FLOWS);
        let services = shuffled(rng, &CONNECT_SERVICES)[..3]
            .iter()
            .enumerate()
            .map(|(i, name)| Service {
                id: digits(rng, 5),
                group_id: group_ids[usize::from(i == 2)].clone(),
                name,
                apps: apps[i * 3..i * 3 + 3].to_vec(),
                flows: flows[i * 3..i * 3 + 3].to_vec(),
            })
            .collect();
        World {
            org_id: org_id.to_owned(),
            org_name: org_name.to_owned(),
            site: Named { id: random_id(rng, "SITE"), name: format!("{slug}.webex.com") },
            people,
            locations,
            devices,
            groups,
            rooms,
            bot_app_ids,
            services,
            connect_actors: CONNECT_ROLES.to_vec(),
        }
    }

    /// An admin, skewed: the [`HEAVY`] full admins do about two thirds of all admin actions.
    pub fn admin_actor(&self, rng: &mut ChaCha8Rng) -> &Person {
        let i = if rng.random_bool(0.65) { rng.random_range(0..HEAVY) } else { rng.random_range(HEAVY..ADMINS) };
        &self.people[i]
    }

    /// Anyone, skewed towards a chatty third of the population (compliance events are about everyone).
    pub fn anyone(&self, rng: &mut ChaCha8Rng) -> &Person {
        let i = if rng.random_bool(0.5) { rng.random_range(0..PEOPLE / 3) } else { rng.random_range(0..PEOPLE) };
        &self.people[i]
    }

    /// A plain user (not an admin), as the target of user-management events.
    pub fn user(&self, rng: &mut ChaCha8Rng) -> &Person {
        &self.people[rng.random_range(ADMINS..PEOPLE)]
    }
}
