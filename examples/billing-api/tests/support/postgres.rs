//! A PostgreSQL database of a test's own, created from `DATABASE_URL`'s server.

use sqlx::Connection;
use sqlx::postgres::PgConnection;

/// A PostgreSQL database for one test run, dropped when this is.
pub struct Database {
    admin_url: String,
    name: String,
    /// The URL of the test's database.
    pub url: String,
}

impl Database {
    /// Creates a database of its own on `admin_url`'s server.
    pub async fn create(admin_url: &str) -> Self {
        let name = super::unique("billing");
        let mut connection = PgConnection::connect(admin_url)
            .await
            .unwrap_or_else(|error| panic!("DATABASE_URL is set but cannot be reached: {error}"));
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut connection)
            .await
            .expect("the test user may create databases");
        let _ = connection.close().await;
        Self {
            admin_url: admin_url.to_owned(),
            url: with_database(admin_url, &name),
            name,
        }
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        let admin_url = self.admin_url.clone();
        let name = self.name.clone();
        // Drop cannot await: a thread with a runtime of its own does it.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime");
            runtime.block_on(async {
                if let Ok(mut connection) = PgConnection::connect(&admin_url).await {
                    let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .execute(&mut connection)
                        .await;
                    let _ = connection.close().await;
                }
            });
        })
        .join();
    }
}

/// `url` with its database (the path) replaced by `name`.
pub fn with_database(url: &str, name: &str) -> String {
    let (scheme, rest) = url.split_once("://").expect("a URL");
    let (before_query, query) = match rest.split_once('?') {
        Some((before, query)) => (before, Some(query)),
        None => (rest, None),
    };
    let authority = before_query.split('/').next().unwrap_or_default();
    let mut out = format!("{scheme}://{authority}/{name}");
    if let Some(query) = query {
        out.push('?');
        out.push_str(query);
    }
    out
}
