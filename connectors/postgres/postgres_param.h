// File: connectors/postgres/postgres_param.h
//
// Param: one bound statement parameter in PostgreSQL's text format, as libpq's PQsendQueryParams
// takes it; nullopt is SQL NULL. Kept apart from the connection so query builders and encoders
// can be used (and tested) without libpq.
//
// Thread safety: a value type.
#pragma once

#include <optional>
#include <string>

namespace tandem::connectors::postgres {

using Param = std::optional<std::string>;

}  // namespace tandem::connectors::postgres
