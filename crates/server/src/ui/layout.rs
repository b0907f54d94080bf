//! The page shell every viewer page shares: head, header with the org and sign-out, main.

use maud::{DOCTYPE, Markup, html};

use super::assets;
use super::session::Viewer;

/// A whole page. `viewer` is `None` on the sign-in and error pages.
pub fn page(title: &str, viewer: Option<&Viewer>, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · auditrail" }
                link rel="icon" type="image/svg+xml" href=(assets::ICON.url());
                link rel="stylesheet" href=(assets::STYLE.url());
                script defer src=(assets::SCRIPT.url()) {}
            }
            body {
                a.skip href="#main" { "Skip to content" }
                header.top {
                    a.brand href="/ui/events" { "auditrail" }
                    @if let Some(viewer) = viewer {
                        nav aria-label="Main" {
                            ul {
                                li { a href="/ui/overview" { "Overview" } }
                                li { a href="/ui/events" { "Events" } }
                                li { a href="/ui/events?kind=access" { "Access log" } }
                            }
                        }
                        div.who {
                            span.org title=(viewer.principal.org.id.to_string()) { (viewer.principal.org.name) }
                            form method="post" action="/ui/signout" {
                                input type="hidden" name="csrf" value=(viewer.session.csrf);
                                button.link type="submit" { "Sign out" }
                            }
                        }
                    }
                }
                main #main { (body) }
            }
        }
    }
}

/// A point in time: UTC on the server, turned into the browser's own zone (absolute and
/// relative) by the script when it runs.
pub fn time(at: auditrail_core::Timestamp) -> Markup {
    let iso = at.to_string();
    html! { time datetime=(iso) { (iso) } }
}
