-- Housekeeping deletes by expiry in batches (src/housekeeping.rs): without these indexes
-- every pass would scan the whole table.
CREATE INDEX refresh_families_expires ON refresh_families (expires_at);
CREATE INDEX revoked_access_tokens_expires ON revoked_access_tokens (expires_at);
CREATE INDEX auth_codes_expires ON auth_codes (expires_at);
CREATE INDEX sessions_expires ON sessions (expires_at);
CREATE INDEX login_throttle_window ON login_throttle (window_start);
-- Only tokens still holding a sealed successor (the grace window), usually none.
CREATE INDEX refresh_tokens_sealed ON refresh_tokens (spent_at) WHERE successor_sealed IS NOT NULL;
