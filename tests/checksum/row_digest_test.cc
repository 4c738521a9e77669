#include "checksum/row_digest.h"

#include <gtest/gtest.h>

#include <cmath>

#include "checksum/canonical_encoding.h"

namespace tandem::checksum {
namespace {

using engine::Row;
using engine::Value;

Digest128 Hash(const Row& row) {
  std::string scratch;
  return HashRow(row, &scratch);
}

TEST(CanonicalEncoding, EqualNumbersFromDifferentEnginesAgree) {
  EXPECT_EQ(Hash({Value::Int(5)}), Hash({Value::UInt(5)}));
  EXPECT_EQ(Hash({Value::Int(5)}), Hash({Value::Decimal("5.000")}));
  EXPECT_EQ(Hash({Value::Bool(true)}), Hash({Value::Int(1)}));
  EXPECT_EQ(Hash({Value::Decimal("-0.00")}), Hash({Value::Int(0)}));
  EXPECT_EQ(Hash({Value::UInt(18446744073709551615ULL)}),
            Hash({Value::Decimal("18446744073709551615")}));
}

TEST(CanonicalEncoding, DifferentValuesDisagree) {
  EXPECT_NE(Hash({Value::Double(0.0)}), Hash({Value::Double(-0.0)}));
  EXPECT_NE(Hash({Value::Text("")}), Hash({Value::Null()}));
  EXPECT_NE(Hash({Value::Text("a")}), Hash({Value::Text("a ")}));
  EXPECT_NE(Hash({Value::Text("a")}), Hash({Value::Bytes("a")}));
  EXPECT_NE(Hash({Value::Int(0)}), Hash({Value::Null()}));
  EXPECT_NE(Hash({Value::Timestamp(1)}), Hash({Value::Timestamp(2)}));
  EXPECT_NE(Hash({Value::DateTime(2024, 1, 1, 0)}), Hash({Value::DateTime(2024, 1, 1, 1)}));
  EXPECT_NE(Hash({Value::Bytes(std::string("a\0b", 3))}), Hash({Value::Bytes("ab")}));
  EXPECT_NE(Hash({Value::Text("\xF0\x9F\x98\x80")}), Hash({Value::Text("\xF0\x9F\x98\x81")}));
}

TEST(CanonicalEncoding, ValueBoundariesAreUnambiguous) {
  EXPECT_NE(Hash({Value::Text("ab"), Value::Text("c")}),
            Hash({Value::Text("a"), Value::Text("bc")}));
  EXPECT_NE(Hash({Value::Null(), Value::Text("x")}), Hash({Value::Text("x"), Value::Null()}));
}

TEST(CanonicalEncoding, JsonComparesByContent) {
  EXPECT_EQ(Hash({Value::Json(R"({"b": 1, "a": [1, 2]})")}),
            Hash({Value::Json(R"({"a":[1,2],"b":1})")}));
  EXPECT_NE(Hash({Value::Json(R"({"a": 1})")}), Hash({Value::Json(R"({"a": 2})")}));
  EXPECT_EQ(CanonicalJson("not json {"), "not json {");
}

TEST(CanonicalEncoding, EveryNanIsOneValue) {
  EXPECT_EQ(Hash({Value::Double(std::nan("1"))}), Hash({Value::Double(std::nan("2"))}));
}

TEST(ChunkDigest, IndependentOfRowOrder) {
  ChunkDigest forward, backward;
  std::vector<Digest128> rows = {Hash({Value::Int(1)}), Hash({Value::Int(2)}),
                                 Hash({Value::Int(3)})};
  for (const auto& row : rows) forward.Add(row);
  for (auto it = rows.rbegin(); it != rows.rend(); ++it) backward.Add(*it);
  EXPECT_EQ(forward, backward);
}

TEST(ChunkDigest, PairsOfEqualDifferencesDoNotCancel) {
  // The pt-table-checksum flaw: XOR of equal row hashes cancels. Two copies of a row must differ
  // from none, and swapping which side holds a duplicate must show.
  Digest128 a = Hash({Value::Int(1)});
  Digest128 b = Hash({Value::Int(2)});
  ChunkDigest with_duplicates, without;
  with_duplicates.Add(a);
  with_duplicates.Add(a);
  with_duplicates.Add(b);
  without.Add(b);
  EXPECT_NE(with_duplicates, without);
  ChunkDigest one_a_two_b, two_a_one_b;
  one_a_two_b.Add(a);
  one_a_two_b.Add(b);
  one_a_two_b.Add(b);
  two_a_one_b.Add(a);
  two_a_one_b.Add(a);
  two_a_one_b.Add(b);
  EXPECT_NE(one_a_two_b, two_a_one_b);
}

TEST(ChunkDigest, MergeEqualsAddingAllRows) {
  ChunkDigest left, right, all;
  for (int i = 0; i < 10; ++i) {
    Digest128 digest = Hash({Value::Int(i)});
    (i < 4 ? left : right).Add(digest);
    all.Add(digest);
  }
  left.Merge(right);
  EXPECT_EQ(left, all);
  EXPECT_EQ(left.rows(), 10);
}

TEST(ChunkDigest, SumCarriesIntoHighHalf) {
  ChunkDigest digest;
  digest.Add({~0ULL, 0});
  digest.Add({1, 0});
  EXPECT_EQ(digest.sum(), (Digest128{0, 1}));
  EXPECT_EQ(digest.sum().ToHex(), "00000000000000010000000000000000");
}

}  // namespace
}  // namespace tandem::checksum
