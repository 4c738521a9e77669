#include "engine/key_range.h"

namespace tandem::engine {
namespace {

std::string TupleString(const Row& key) {
  if (key.size() == 1) {
    return key[0].ToDisplayString();
  }
  std::string out = "(";
  for (size_t i = 0; i < key.size(); ++i) {
    out += (i ? "," : "") + key[i].ToDisplayString();
  }
  return out + ")";
}

}  // namespace

std::string KeyRange::ToString() const {
  std::string out = lower ? (lower->inclusive ? "[" : "(") + TupleString(lower->key) : "(-inf";
  out += ", ";
  out += upper ? TupleString(upper->key) + (upper->inclusive ? "]" : ")") : "+inf)";
  return out;
}

}  // namespace tandem::engine
