// File: connectors/postgres/postgres_errors.h
//
// How PostgreSQL failures become tandem Statuses. Two sources:
//   - a failed connection attempt, where libpq gives only its (English) message text, which is
//     classified by the phrases libpq and the server use (refused, timeout, authentication,
//     unknown database, missing CONNECT privilege, too many clients);
//   - a failed statement, classified by its SQLSTATE:
//
//   SQLSTATE            meaning                                  StatusCode
//   28000, 28P01        invalid authorization / password         kAuthenticationFailed
//   3D000               database does not exist                  kNotFound
//   3F000, 42P01, 42703 schema / table / column does not exist   kNotFound
//   42501               insufficient privilege                   kPermissionDenied
//   57014               statement timeout                        kTimeout
//                       query cancelled by someone else          kUnavailable
//   08xxx, 57P01-57P03  connection lost, server shutting down    kConnectionFailed
//   53xxx, 40001, 40P01, 55P03, 55006
//                       out of resources, conflicts, locks       kUnavailable
//   25006               read-only transaction                    kFailedPrecondition
//   0A000               feature not supported                    kUnsupported
//   22xxx               bad data                                 kInvalidArgument
//   42xxx (others), XX  tandem sent a bad statement / server bug kInternal
//   anything else                                                kFailedPrecondition
//
// Every message is one line, names the server by ConnectionConfig::Redacted(), says how to fix
// the problem where there is a known fix, and never contains the password (it is scrubbed even if
// a library or server were to echo it).
//
// Thread safety: stateless functions; safe for concurrent use.
#pragma once

#include <string>
#include <string_view>

#include "engine/connection_config.h"
#include "engine/status.h"

namespace tandem::connectors::postgres {

// The StatusCode for a statement that failed with `sqlstate` and primary message `message`.
engine::StatusCode StatusCodeForSqlState(std::string_view sqlstate, std::string_view message);

// The Status for a connection attempt to `config` that libpq refused with `libpq_message`.
engine::Status ConnectError(const engine::ConnectionConfig& config, std::string_view libpq_message);

// The Status for a statement that failed while doing `context` (e.g. "reading public.orders").
// `sqlstate`, `message` and `hint` come from the server's error fields (may be empty).
engine::Status StatementError(const engine::ConnectionConfig& config, std::string_view context,
                              std::string_view sqlstate, std::string_view message,
                              std::string_view hint);

// `text` on one line: line breaks and tabs become "; " / " ", runs of spaces collapse, and the
// ends are trimmed.
std::string OneLine(std::string_view text);

// `text` with every occurrence of `secret` replaced by "***" (nothing when `secret` is empty).
std::string ScrubSecret(std::string text, std::string_view secret);

}  // namespace tandem::connectors::postgres
