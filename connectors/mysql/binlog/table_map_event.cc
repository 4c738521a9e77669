#include "connectors/mysql/binlog/table_map_event.h"

#include "connectors/mysql/binlog/byte_reader.h"

namespace tandem::connectors::mysql::binlog {

using engine::Result;
using engine::Status;

std::string ColumnTypeName(ColumnType type) {
  switch (type) {
    case ColumnType::kDecimal:
      return "DECIMAL";
    case ColumnType::kTiny:
      return "TINY";
    case ColumnType::kShort:
      return "SHORT";
    case ColumnType::kLong:
      return "LONG";
    case ColumnType::kFloat:
      return "FLOAT";
    case ColumnType::kDouble:
      return "DOUBLE";
    case ColumnType::kNull:
      return "NULL";
    case ColumnType::kTimestamp:
      return "TIMESTAMP";
    case ColumnType::kLongLong:
      return "LONGLONG";
    case ColumnType::kInt24:
      return "INT24";
    case ColumnType::kDate:
      return "DATE";
    case ColumnType::kTime:
      return "TIME";
    case ColumnType::kDateTime:
      return "DATETIME";
    case ColumnType::kYear:
      return "YEAR";
    case ColumnType::kNewDate:
      return "NEWDATE";
    case ColumnType::kVarchar:
      return "VARCHAR";
    case ColumnType::kBit:
      return "BIT";
    case ColumnType::kTimestamp2:
      return "TIMESTAMP2";
    case ColumnType::kDateTime2:
      return "DATETIME2";
    case ColumnType::kTime2:
      return "TIME2";
    case ColumnType::kJson:
      return "JSON";
    case ColumnType::kNewDecimal:
      return "NEWDECIMAL";
    case ColumnType::kEnum:
      return "ENUM";
    case ColumnType::kSet:
      return "SET";
    case ColumnType::kTinyBlob:
      return "TINY_BLOB";
    case ColumnType::kMediumBlob:
      return "MEDIUM_BLOB";
    case ColumnType::kLongBlob:
      return "LONG_BLOB";
    case ColumnType::kBlob:
      return "BLOB";
    case ColumnType::kVarString:
      return "VAR_STRING";
    case ColumnType::kString:
      return "STRING";
    case ColumnType::kGeometry:
      return "GEOMETRY";
  }
  return "type " + std::to_string(static_cast<int>(type));
}

namespace {

bool KnownType(uint8_t code) { return code <= 19 || code >= 245; }

// Reads one column's metadata and fills the derived fields.
Status ReadMetadata(ByteReader& reader, BinlogColumn& column) {
  switch (column.type) {
    case ColumnType::kFloat:
    case ColumnType::kDouble:
    case ColumnType::kBlob:
    case ColumnType::kTinyBlob:
    case ColumnType::kMediumBlob:
    case ColumnType::kLongBlob:
    case ColumnType::kGeometry:
    case ColumnType::kJson: {
      TANDEM_ASSIGN_OR_RETURN(uint8_t value, reader.U8("column metadata"));
      column.metadata = value;
      column.max_length = value;
      if (column.type != ColumnType::kFloat && column.type != ColumnType::kDouble &&
          (value < 1 || value > 4)) {
        return reader.Error(ColumnTypeName(column.type) + " column with a " +
                            std::to_string(value) + "-byte length prefix (1 to 4 expected)");
      }
      return Status::Ok();
    }
    case ColumnType::kTime2:
    case ColumnType::kDateTime2:
    case ColumnType::kTimestamp2: {
      TANDEM_ASSIGN_OR_RETURN(uint8_t fsp, reader.U8("column metadata"));
      if (fsp > 6) {
        return reader.Error("fractional second precision " + std::to_string(fsp) +
                            " (0 to 6 expected)");
      }
      column.metadata = fsp;
      column.scale = fsp;
      return Status::Ok();
    }
    case ColumnType::kVarchar:
    case ColumnType::kVarString: {
      TANDEM_ASSIGN_OR_RETURN(uint16_t value, reader.U16("column metadata"));
      column.metadata = value;
      column.max_length = value;
      return Status::Ok();
    }
    case ColumnType::kBit: {
      TANDEM_ASSIGN_OR_RETURN(uint8_t bits, reader.U8("column metadata"));
      TANDEM_ASSIGN_OR_RETURN(uint8_t bytes, reader.U8("column metadata"));
      column.metadata = static_cast<uint16_t>(bits | (bytes << 8));
      column.bit_width = static_cast<uint16_t>(bytes * 8 + bits);
      if (bits > 7 || column.bit_width == 0 || column.bit_width > 64) {
        return reader.Error("BIT column of " + std::to_string(column.bit_width) +
                            " bits (1 to 64 expected)");
      }
      return Status::Ok();
    }
    case ColumnType::kNewDecimal: {
      TANDEM_ASSIGN_OR_RETURN(column.precision, reader.U8("column metadata"));
      TANDEM_ASSIGN_OR_RETURN(column.scale, reader.U8("column metadata"));
      column.metadata = static_cast<uint16_t>(column.precision << 8 | column.scale);
      if (column.precision == 0 || column.precision > 65 || column.scale > 38 ||
          column.scale > column.precision) {
        return reader.Error("DECIMAL(" + std::to_string(column.precision) + "," +
                            std::to_string(column.scale) + ") is not a valid decimal type");
      }
      return Status::Ok();
    }
    case ColumnType::kString:
    case ColumnType::kEnum:
    case ColumnType::kSet: {
      TANDEM_ASSIGN_OR_RETURN(uint8_t byte0, reader.U8("column metadata"));
      TANDEM_ASSIGN_OR_RETURN(uint8_t byte1, reader.U8("column metadata"));
      column.metadata = static_cast<uint16_t>(byte0 << 8 | byte1);
      if ((byte0 & 0x30) != 0x30) {
        // CHAR columns longer than 255 bytes fold two high length bits into the type byte.
        column.max_length = static_cast<uint32_t>(((byte0 & 0x30) ^ 0x30) << 4) | byte1;
        column.type = static_cast<ColumnType>(byte0 | 0x30);
      } else {
        column.max_length = byte1;
        if (byte0 == static_cast<uint8_t>(ColumnType::kEnum) ||
            byte0 == static_cast<uint8_t>(ColumnType::kSet) ||
            byte0 == static_cast<uint8_t>(ColumnType::kString)) {
          column.type = static_cast<ColumnType>(byte0);
        }
      }
      if (column.type != ColumnType::kString && column.type != ColumnType::kEnum &&
          column.type != ColumnType::kSet) {
        return reader.Error("STRING column with real type " + std::to_string(byte0));
      }
      if (column.type == ColumnType::kEnum && column.max_length != 1 && column.max_length != 2) {
        return reader.Error("ENUM column stored in " + std::to_string(column.max_length) +
                            " bytes (1 or 2 expected)");
      }
      if (column.type == ColumnType::kSet && (column.max_length < 1 || column.max_length > 8)) {
        return reader.Error("SET column stored in " + std::to_string(column.max_length) +
                            " bytes (1 to 8 expected)");
      }
      return Status::Ok();
    }
    default:
      return Status::Ok();
  }
}

Result<std::vector<std::vector<std::string>>> ReadLabels(ByteReader& reader) {
  std::vector<std::vector<std::string>> columns;
  while (!reader.empty()) {
    TANDEM_ASSIGN_OR_RETURN(uint64_t count, reader.PackedInt("label count"));
    if (count > reader.remaining()) {
      return reader.Error("label count " + std::to_string(count) + " exceeds the field");
    }
    std::vector<std::string> labels;
    for (uint64_t i = 0; i < count; ++i) {
      TANDEM_ASSIGN_OR_RETURN(std::string_view label, reader.PackedBytes("label"));
      labels.emplace_back(label);
    }
    columns.push_back(std::move(labels));
  }
  return columns;
}

Status ReadOptionalMetadata(ByteReader& reader, TableMapEvent& event) {
  while (!reader.empty()) {
    TANDEM_ASSIGN_OR_RETURN(uint8_t type, reader.U8("optional metadata type"));
    TANDEM_ASSIGN_OR_RETURN(std::string_view value, reader.PackedBytes("optional metadata"));
    ByteReader field(value, "TABLE_MAP_EVENT optional metadata");
    switch (type) {
      case 4: {  // COLUMN_NAME
        for (BinlogColumn& column : event.columns) {
          TANDEM_ASSIGN_OR_RETURN(std::string_view name, field.PackedBytes("column name"));
          column.name = std::string(name);
        }
        event.has_column_names = true;
        break;
      }
      case 5: {  // SET_STR_VALUE
        TANDEM_ASSIGN_OR_RETURN(event.set_labels, ReadLabels(field));
        break;
      }
      case 6: {  // ENUM_STR_VALUE
        TANDEM_ASSIGN_OR_RETURN(event.enum_labels, ReadLabels(field));
        break;
      }
      default:
        break;  // signedness, charsets, geometry types, keys, visibility: the catalog has them
    }
  }
  return Status::Ok();
}

}  // namespace

Result<TableMapEvent> ParseTableMapEvent(std::string_view body, size_t table_id_size) {
  ByteReader reader(body, "TABLE_MAP_EVENT");
  TableMapEvent event;
  TANDEM_ASSIGN_OR_RETURN(event.table_id, reader.UIntLE(table_id_size, "table id"));
  TANDEM_ASSIGN_OR_RETURN(event.flags, reader.U16("flags"));
  TANDEM_ASSIGN_OR_RETURN(uint8_t schema_length, reader.U8("schema length"));
  TANDEM_ASSIGN_OR_RETURN(std::string_view schema, reader.Bytes(schema_length, "schema"));
  TANDEM_RETURN_IF_ERROR(reader.Skip(1, "schema terminator"));
  TANDEM_ASSIGN_OR_RETURN(uint8_t table_length, reader.U8("table length"));
  TANDEM_ASSIGN_OR_RETURN(std::string_view table, reader.Bytes(table_length, "table"));
  TANDEM_RETURN_IF_ERROR(reader.Skip(1, "table terminator"));
  event.schema = std::string(schema);
  event.table = std::string(table);
  const std::string what = "TABLE_MAP_EVENT for `" + event.schema + "`.`" + event.table + "`";
  ByteReader columns(reader.Rest(), what);
  TANDEM_ASSIGN_OR_RETURN(uint64_t count, columns.PackedInt("column count"));
  TANDEM_ASSIGN_OR_RETURN(std::string_view types, columns.Bytes(count, "column types"));
  event.columns.resize(types.size());
  for (size_t i = 0; i < types.size(); ++i) {
    const auto code = static_cast<uint8_t>(types[i]);
    if (!KnownType(code)) {
      return columns.Error("column " + std::to_string(i + 1) + " has unknown type " +
                           std::to_string(code));
    }
    event.columns[i].type = static_cast<ColumnType>(code);
  }
  TANDEM_ASSIGN_OR_RETURN(std::string_view metadata, columns.PackedBytes("metadata"));
  const std::string meta_what = what + " metadata";
  ByteReader meta(metadata, meta_what);
  for (BinlogColumn& column : event.columns) {
    TANDEM_RETURN_IF_ERROR(ReadMetadata(meta, column));
  }
  if (!meta.empty()) {
    return meta.Error(std::to_string(meta.remaining()) + " metadata bytes left over");
  }
  TANDEM_ASSIGN_OR_RETURN(std::string_view nulls, columns.Bytes((count + 7) / 8, "null bitmap"));
  for (size_t i = 0; i < event.columns.size(); ++i) {
    event.columns[i].nullable = ((static_cast<unsigned char>(nulls[i / 8]) >> (i % 8)) & 1) != 0;
  }
  const std::string optional_what = what + " optional metadata";
  ByteReader optional(columns.Rest(), optional_what);
  TANDEM_RETURN_IF_ERROR(ReadOptionalMetadata(optional, event));
  return event;
}

}  // namespace tandem::connectors::mysql::binlog
