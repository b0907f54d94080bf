//! The one `Store` impl both backends share (see [`store_by_concern`]).

/// The [`Store`](crate::Store) impl of a backend module laid out by concern: `ping` and `after_bulk_load` in the backend's own module,
/// and every other method as the function of the same name in `tokens`, `ingest`, `query`,
/// `checkpoints`, `retention`, `sinks`, `intake`, `sessions` or `overview`, taking the store first. Both backends use it, so they have the
/// same files for the same concerns by construction, and their impls cannot drift apart. An
/// ingest is checked by [`prepare_batch`](crate::prepare_batch) here, once for both, and reaches the backend with the
/// batch's repeats.
macro_rules! store_by_concern {
    ($backend:ty) => {
        #[async_trait::async_trait]
        impl $crate::Store for $backend {
            async fn ping(&self) -> Result<(), $crate::StoreError> {
                ping(self).await
            }

            async fn cursor_key(&self) -> Result<[u8; 32], $crate::StoreError> {
                query::cursor_key(self).await
            }

            async fn after_bulk_load(&self) -> Result<(), $crate::StoreError> {
                after_bulk_load(self).await
            }

            async fn create_org(
                &self,
                id: &auditrail_core::OrgId,
                name: &str,
            ) -> Result<$crate::Org, $crate::StoreError> {
                tokens::create_org(self, id, name).await
            }

            async fn org(&self, id: &auditrail_core::OrgId) -> Result<Option<$crate::Org>, $crate::StoreError> {
                tokens::org(self, id).await
            }

            async fn orgs(&self) -> Result<Vec<$crate::Org>, $crate::StoreError> {
                tokens::orgs(self).await
            }

            async fn create_token(
                &self,
                org: &auditrail_core::OrgId,
                token: $crate::NewToken,
            ) -> Result<($crate::TokenInfo, auditrail_core::token::TokenSecret), $crate::StoreError> {
                tokens::create_token(self, org, token).await
            }

            async fn tokens(&self, org: &auditrail_core::OrgId) -> Result<Vec<$crate::TokenInfo>, $crate::StoreError> {
                tokens::tokens(self, org).await
            }

            async fn revoke_token(&self, token_id: &str) -> Result<auditrail_core::OrgId, $crate::StoreError> {
                tokens::revoke_token(self, token_id).await
            }

            async fn authenticate(
                &self,
                hash: &auditrail_core::token::TokenHash,
                now: auditrail_core::Timestamp,
            ) -> Result<Option<$crate::Principal>, $crate::StoreError> {
                tokens::authenticate(self, hash, now).await
            }

            async fn ingest(
                &self,
                org: &auditrail_core::OrgId,
                kind: auditrail_core::Kind,
                events: Vec<auditrail_core::NormalizedEvent>,
            ) -> Result<$crate::IngestReceipt, $crate::IngestError> {
                let repeats = $crate::prepare_batch(kind, &events)?;
                let receipt = ingest::ingest(self, org, kind, events, repeats).await?;
                if let Some(head) = receipt.items.iter().filter(|i| !i.duplicate).map(|i| i.seq).max() {
                    self.commits.raise(org, head);
                }
                Ok(receipt)
            }

            async fn events(
                &self,
                org: &auditrail_core::OrgId,
                query: &auditrail_core::EventQuery,
            ) -> Result<$crate::EventPage, $crate::StoreError> {
                query::events(self, org, query).await
            }

            async fn event_by_id(
                &self,
                org: &auditrail_core::OrgId,
                kind: auditrail_core::Kind,
                id: &auditrail_core::EventId,
            ) -> Result<Option<$crate::StoredEvent>, $crate::StoreError> {
                query::event_by_id(self, org, kind, id).await
            }

            async fn admin_categories(&self, org: &auditrail_core::OrgId) -> Result<Vec<String>, $crate::StoreError> {
                query::admin_categories(self, org).await
            }

            async fn log_size(&self, org: &auditrail_core::OrgId) -> Result<u64, $crate::StoreError> {
                query::log_size(self, org).await
            }

            async fn merkle_nodes(
                &self,
                org: &auditrail_core::OrgId,
                wanted: &[(u32, u64)],
            ) -> Result<Vec<[u8; 32]>, $crate::StoreError> {
                query::merkle_nodes(self, org, wanted).await
            }

            async fn event_seq(
                &self,
                org: &auditrail_core::OrgId,
                kind: Option<auditrail_core::Kind>,
                id: &auditrail_core::EventId,
            ) -> Result<Option<(auditrail_core::Kind, u64)>, $crate::StoreError> {
                query::event_seq(self, org, kind, id).await
            }

            async fn log_entries(
                &self,
                org: &auditrail_core::OrgId,
                after: u64,
                kinds: auditrail_core::KindSet,
                limit: u32,
            ) -> Result<$crate::LogEntries, $crate::StoreError> {
                query::log_entries(self, org, after, kinds, limit).await
            }

            fn watch_commits(&self, org: &auditrail_core::OrgId) -> tokio::sync::watch::Receiver<u64> {
                self.listen_for_commits();
                self.commits.subscribe(org)
            }

            fn any_commit(&self) -> tokio::sync::watch::Receiver<u64> {
                self.listen_for_commits();
                self.commits.any()
            }

            async fn save_checkpoint(
                &self,
                org: &auditrail_core::OrgId,
                checkpoint: &$crate::StoredCheckpoint,
            ) -> Result<(), $crate::StoreError> {
                checkpoints::save_checkpoint(self, org, checkpoint).await
            }

            async fn checkpoints(
                &self,
                org: &auditrail_core::OrgId,
                limit: u32,
            ) -> Result<Vec<$crate::StoredCheckpoint>, $crate::StoreError> {
                checkpoints::checkpoints(self, org, limit).await
            }

            async fn retention_policy(
                &self,
                org: &auditrail_core::OrgId,
            ) -> Result<$crate::RetentionPolicy, $crate::StoreError> {
                retention::retention_policy(self, org).await
            }

            async fn set_retention(
                &self,
                org: &auditrail_core::OrgId,
                days: Option<u32>,
            ) -> Result<(), $crate::StoreError> {
                retention::set_retention(self, org, days).await
            }

            async fn set_legal_hold(&self, org: &auditrail_core::OrgId, held: bool) -> Result<(), $crate::StoreError> {
                retention::set_legal_hold(self, org, held).await
            }

            async fn delete_expired(
                &self,
                org: &auditrail_core::OrgId,
                cutoff: auditrail_core::Timestamp,
                max_seq: u64,
            ) -> Result<Vec<u64>, $crate::StoreError> {
                retention::delete_expired(self, org, cutoff, max_seq).await
            }

            async fn deleted_seqs(&self, org: &auditrail_core::OrgId) -> Result<Vec<u64>, $crate::StoreError> {
                retention::deleted_seqs(self, org).await
            }

            async fn create_sink(
                &self,
                org: &auditrail_core::OrgId,
                sink: $crate::NewSink,
            ) -> Result<$crate::Sink, $crate::StoreError> {
                sinks::create_sink(self, org, sink).await
            }

            async fn sinks(
                &self,
                org: Option<&auditrail_core::OrgId>,
            ) -> Result<Vec<$crate::Sink>, $crate::StoreError> {
                sinks::sinks(self, org).await
            }

            async fn set_sink_paused(
                &self,
                id: &auditrail_core::sink::SinkId,
                paused: bool,
            ) -> Result<(), $crate::StoreError> {
                sinks::set_sink_paused(self, id, paused).await
            }

            async fn remove_sink(&self, id: &auditrail_core::sink::SinkId) -> Result<(), $crate::StoreError> {
                sinks::remove_sink(self, id).await
            }

            async fn sink_progress(
                &self,
                id: &auditrail_core::sink::SinkId,
                owner: &str,
                progress: $crate::SinkProgress,
            ) -> Result<bool, $crate::StoreError> {
                sinks::sink_progress(self, id, owner, progress).await
            }

            async fn record_intake(
                &self,
                org: &auditrail_core::OrgId,
                batch: Vec<$crate::IntakeBatch>,
            ) -> Result<(), $crate::StoreError> {
                intake::record_intake(self, org, batch).await
            }

            async fn intake_status(
                &self,
                org: Option<&auditrail_core::OrgId>,
            ) -> Result<Vec<$crate::IntakePartition>, $crate::StoreError> {
                intake::intake_status(self, org).await
            }

            async fn create_session(
                &self,
                id: &auditrail_core::session::SessionHash,
                session: &auditrail_core::session::Session,
            ) -> Result<(), $crate::StoreError> {
                sessions::create_session(self, id, session).await
            }

            async fn session(
                &self,
                id: &auditrail_core::session::SessionHash,
                now: auditrail_core::Timestamp,
            ) -> Result<Option<auditrail_core::session::Session>, $crate::StoreError> {
                sessions::session(self, id, now).await
            }

            async fn end_session(&self, id: &auditrail_core::session::SessionHash) -> Result<(), $crate::StoreError> {
                sessions::end_session(self, id).await
            }

            async fn daily_counts(
                &self,
                org: &auditrail_core::OrgId,
                kind: auditrail_core::Kind,
                dimension: $crate::Dimension,
                days: (i64, i64),
            ) -> Result<Vec<$crate::DayCount>, $crate::StoreError> {
                overview::daily_counts(self, org, kind, dimension, days).await
            }

            async fn top_values(
                &self,
                org: &auditrail_core::OrgId,
                kind: auditrail_core::Kind,
                dimension: $crate::Dimension,
                days: (i64, i64),
                limit: u32,
            ) -> Result<Vec<(String, u64)>, $crate::StoreError> {
                overview::top_values(self, org, kind, dimension, days, limit).await
            }

            async fn failed_events(
                &self,
                org: &auditrail_core::OrgId,
                kind: auditrail_core::Kind,
                range: auditrail_core::TimeRange,
                limit: u32,
            ) -> Result<Vec<$crate::StoredEvent>, $crate::StoreError> {
                overview::failed_events(self, org, kind, range, limit).await
            }
        }
    };
}
pub(crate) use store_by_concern;
