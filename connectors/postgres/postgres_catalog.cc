#include "connectors/postgres/postgres_catalog.h"

#include <charconv>
#include <map>

#include "connectors/postgres/postgres_value_decoder.h"

namespace tandem::connectors::postgres {
namespace {

using engine::Result;
using engine::TableId;
using engine::TableSchema;

constexpr const char* kListTablesSql = R"sql(
SELECT n.nspname, c.relname
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname !~ '^pg_toast' AND n.nspname !~ '^pg_temp_'
  AND ($1::text = '' OR n.nspname = $1::text)
ORDER BY n.nspname, c.relname)sql";

constexpr const char* kSchemaExistsSql =
    "SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = $1::text";

// One row: the table's oid, estimated rows (-1 when never analyzed) and bytes over the table and,
// for a partitioned table, its whole partition tree (pg_partition_tree lists nothing for a plain
// table), and the database's encoding and collation.
constexpr const char* kTableSql = R"sql(
SELECT c.oid,
       (SELECT CASE WHEN bool_or(member.reltuples >= 0)
                    THEN sum(GREATEST(member.reltuples, 0)::float8)::int8 ELSE -1 END
        FROM pg_catalog.pg_class member
        WHERE member.relkind = 'r'
          AND (member.oid = c.oid
               OR member.oid IN (SELECT tree.relid FROM pg_catalog.pg_partition_tree(c.oid) tree))),
       (SELECT sum(pg_catalog.pg_total_relation_size(member.oid))::int8
        FROM pg_catalog.pg_class member
        WHERE member.oid = c.oid
           OR member.oid IN (SELECT tree.relid FROM pg_catalog.pg_partition_tree(c.oid) tree)),
       pg_catalog.pg_encoding_to_char(d.encoding),
       d.datcollate
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
JOIN pg_catalog.pg_database d ON d.datname = pg_catalog.current_database()
WHERE n.nspname = $1::text AND c.relname = $2::text AND c.relkind IN ('r', 'p'))sql";

// Columns in order, each with its base type and modifier: a domain's chain of base types is
// followed to the end (a domain's modifier is typtypmod, as the server's getBaseTypeAndTypmod).
constexpr const char* kColumnsSql = R"sql(
SELECT a.attnum, a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod), a.attnotnull,
       a.attcollation <> 0, co.collname, base.oid, base.typmod
FROM pg_catalog.pg_attribute a
LEFT JOIN pg_catalog.pg_collation co ON co.oid = a.attcollation
CROSS JOIN LATERAL (
  WITH RECURSIVE chain(oid, typmod, depth) AS (
    SELECT a.atttypid, a.atttypmod, 0
    UNION ALL
    SELECT t.typbasetype, t.typtypmod, chain.depth + 1
    FROM chain JOIN pg_catalog.pg_type t ON t.oid = chain.oid
    WHERE t.typtype = 'd')
  SELECT chain.oid, chain.typmod FROM chain ORDER BY chain.depth DESC LIMIT 1) base
WHERE a.attrelid = $1::oid AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attnum)sql";

// Indexes that identify rows: unique, valid, whole-table (no predicate), on plain columns.
constexpr const char* kKeysSql = R"sql(
SELECT ic.relname, i.indisprimary, i.indnkeyatts, i.indkey::text
FROM pg_catalog.pg_index i
JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid
WHERE i.indrelid = $1::oid AND i.indisunique AND i.indisvalid
  AND i.indpred IS NULL AND i.indexprs IS NULL
ORDER BY i.indisprimary DESC, ic.relname)sql";

// "1 3 2" (an int2vector) to its numbers.
std::vector<int> ParseAttributeNumbers(std::string_view text) {
  std::vector<int> numbers;
  const char* position = text.data();
  const char* end = text.data() + text.size();
  while (position < end) {
    if (*position == ' ') {
      ++position;
      continue;
    }
    int number = 0;
    auto [next, error] = std::from_chars(position, end, number);
    if (error != std::errc()) {
      break;
    }
    numbers.push_back(number);
    position = next;
  }
  return numbers;
}

}  // namespace

Result<std::vector<TableId>> ListPostgresTables(PostgresConnection& connection,
                                                const std::string& schema) {
  TANDEM_ASSIGN_OR_RETURN(PgResult result,
                          connection.Query("listing tables", kListTablesSql, {schema}));
  std::vector<TableId> tables;
  tables.reserve(static_cast<size_t>(result.rows()));
  for (int row = 0; row < result.rows(); ++row) {
    tables.push_back({result.String(row, 0), result.String(row, 1)});
  }
  if (tables.empty() && !schema.empty()) {
    TANDEM_ASSIGN_OR_RETURN(PgResult exists,
                            connection.Query("listing tables", kSchemaExistsSql, {schema}));
    if (exists.rows() == 0) {
      return engine::NotFound("schema \"" + schema + "\" does not exist in " +
                              connection.config().Redacted() +
                              " (check the schema name; PostgreSQL names are case-sensitive)");
    }
  }
  return tables;
}

Result<TableSchema> DescribePostgresTable(PostgresConnection& connection, const TableId& table) {
  const std::string context = "describing table " + table.ToString();
  if (connection.server_version() < kMinimumServerVersion) {
    return engine::Unsupported(context + " on " + connection.config().Redacted() +
                               " failed: tandem needs PostgreSQL 12 or later");
  }
  TANDEM_ASSIGN_OR_RETURN(PgResult found,
                          connection.Query(context, kTableSql, {table.schema, table.name}));
  if (found.rows() == 0) {
    return engine::NotFound("table " + table.ToString() + " does not exist in " +
                            connection.config().Redacted() +
                            " (check the schema and table name; PostgreSQL names are "
                            "case-sensitive)");
  }
  const std::string oid = found.String(0, 0);
  TableSchema schema;
  schema.id = table;
  schema.estimated_rows = found.Int(0, 1, -1);
  schema.data_bytes = found.Int(0, 2, -1);
  const std::string encoding = found.String(0, 3);
  const std::string database_collation = found.String(0, 4);

  TANDEM_ASSIGN_OR_RETURN(PgResult columns, connection.Query(context, kColumnsSql, {oid}));
  std::map<int64_t, int> index_of_attribute;  // attnum -> index in schema.columns
  for (int row = 0; row < columns.rows(); ++row) {
    engine::Column column;
    column.name = columns.String(row, 1);
    column.declared_type = columns.String(row, 2);
    column.nullable = !columns.Bool(row, 3);
    if (columns.Bool(row, 4)) {
      column.charset = encoding;
      column.collation = columns.String(row, 5);
      if (column.collation == "default") {
        column.collation = database_collation;
      }
    }
    column.kind = PostgresValueKind(static_cast<uint32_t>(columns.Int(row, 6)),
                                    static_cast<int32_t>(columns.Int(row, 7, -1)));
    index_of_attribute[columns.Int(row, 0)] = static_cast<int>(schema.columns.size());
    schema.columns.push_back(std::move(column));
  }

  TANDEM_ASSIGN_OR_RETURN(PgResult keys, connection.Query(context, kKeysSql, {oid}));
  for (int row = 0; row < keys.rows(); ++row) {
    engine::KeyDescriptor key;
    key.name = keys.String(row, 0);
    key.primary = keys.Bool(row, 1);
    const int64_t key_columns = keys.Int(row, 2);
    std::vector<int> attributes = ParseAttributeNumbers(keys.View(row, 3));
    if (attributes.size() > static_cast<size_t>(key_columns)) {
      attributes.resize(static_cast<size_t>(key_columns));  // drop INCLUDE columns
    }
    bool usable = !attributes.empty();
    for (int attribute : attributes) {
      auto it = index_of_attribute.find(attribute);
      if (it == index_of_attribute.end()) {
        usable = false;  // a system column: cannot be read as a key
        break;
      }
      key.columns.push_back(it->second);
      key.all_not_null = key.all_not_null && !schema.columns[it->second].nullable;
    }
    if (usable) {
      schema.keys.push_back(std::move(key));
    }
  }
  return schema;
}

}  // namespace tandem::connectors::postgres
