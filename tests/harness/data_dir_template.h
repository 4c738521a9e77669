// File: tests/harness/data_dir_template.h
//
// A cache of initialised data directories. Initialising MariaDB (mariadb-install-db) or
// PostgreSQL (initdb) takes seconds; copying a ready directory takes a fraction of one. A
// template is built once per machine and server binary, then every server starts from a copy.
//
// Layout: <cache root>/<kind>-<hash of identity>/{data/, READY}. The cache root is
// $TANDEM_TEST_TEMPLATE_DIR, or <system temp dir>/tandem-harness-templates-<euid>; it must be
// owned by the current user. A template is built in a private directory and renamed into place,
// under an flock on <kind>-<hash>.lock, so concurrent test processes build it once and never see
// half of one. The identity covers the server binary (path, size, mtime) and the harness's
// template recipe version, so an upgraded server or a changed recipe gets a new template.
//
// Thread safety: safe for concurrent use from any thread and any process.
#pragma once

#include <functional>
#include <string>

namespace tandem::testing {

// Returns the path of the template's data directory for (`kind`, `identity`), calling
// `build(data_dir)` first if the cache has none. `build` must create `data_dir` completely; if it
// throws, nothing is cached and the exception propagates. Throws std::runtime_error if the cache
// cannot be used or the lock is not obtained within 5 minutes.
std::string GetOrBuildTemplate(const std::string& kind, const std::string& identity,
                               const std::function<void(const std::string& data_dir)>& build);

// "path size mtime" of an executable, for template identities. Throws if it does not exist.
std::string BinaryIdentity(const std::string& path);

}  // namespace tandem::testing
