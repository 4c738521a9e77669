// File: orchestration/html_escape.h
//
// Text made safe to place in HTML element content and in quoted attribute values: & < > " and '
// become entities, every other byte is kept (UTF-8 passes through). What the migration report
// applies to every string it did not write itself.
//
// Thread safety: a pure function.
#pragma once

#include <string>
#include <string_view>

namespace tandem::orchestration {

std::string EscapeHtml(std::string_view text);

}  // namespace tandem::orchestration
