//! What the handlers share.

use portcullis_api_keys::lifecycle::KeyLifecycle;

use crate::admin::AdminToken;
use crate::billing::Billing;
use crate::db::Db;
use crate::keys::TenantPlanStore;

/// The state of the admin and webhook handlers. Clones share everything.
#[derive(Clone, Debug)]
pub(crate) struct AppState {
    /// Tenants and subscriptions.
    pub(crate) db: Db,
    /// Plans from prices, events applied to tenants.
    pub(crate) billing: Billing,
    /// Key management; every change invalidates the key on every instance.
    pub(crate) keys: KeyLifecycle<TenantPlanStore>,
    /// The `/admin` bearer token.
    pub(crate) admin_token: AdminToken,
}
