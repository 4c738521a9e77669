// File: tools/sync_command.h
//
// `tandem sync --source U --target U [--table db.t ...] [--threads N] [--until-caught-up]
//              [--duration S] [--metrics-port P [--metrics-address A]] [--stream NAME]
//              [--copy-threads N] [--max-retries N] [--from-now] [--format text|json]`
//
// Initial copy from a consistent snapshot of the source, then continuous change streaming into the
// target through the engine pipeline (engine/change_pipeline.h): MySQL/MariaDB -> MySQL/MariaDB,
// PostgreSQL -> PostgreSQL, Redis -> Redis (tools/sync_backend.h).
//
// --from-now replaces the copy for a target that already holds the source's data (the reverse
// stream after a cutover): no copy, no table creation, no emptiness check; the first start (no
// checkpoint of --stream on the target) commits the checkpoint "<stream>" at
// SyncBackend::StartAtSourceEnd(), so every change committed on the source after that position is
// streamed and none before it; from then on (and on every later start, where --from-now has no
// effect) the stream resumes from its checkpoint as after a copy.
// Every step commits its progress in the target (`_tandem`), so a stop (Ctrl-C, SIGTERM,
// --duration, --until-caught-up) or a crash (kill -9) at any moment is resumed by the next start
// of the same command, without losing or doubling a change.
//
// Exit 0: stopped as asked (and, with --until-caught-up, caught up); 2: could not run (bad input,
// unsupported source settings, permissions, purged binlogs, an error that reconnecting did not
// cure). JSON on exit: `position`, `events_applied`, `lag_ms` (DESIGN.md) and more.
#pragma once

#include <string>
#include <vector>

namespace tandem::tools {

int RunSyncCommand(const std::vector<std::string>& args);

}  // namespace tandem::tools
