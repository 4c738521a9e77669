#include "checksum/redis_value_digest.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace tandem::checksum {
namespace {

void AppendLengthPrefixed(const std::string& text, std::string* out) {
  out->append(std::to_string(text.size()));
  out->push_back(':');
  out->append(text);
}

Digest128 Hash(const std::string& bytes) {
  XXH128_hash_t hash = XXH3_128bits(bytes.data(), bytes.size());
  return Digest128{hash.low64, hash.high64};
}

}  // namespace

ValueDigest::ValueDigest(const std::string& type) {
  if (type == "string") {
    kind_ = Kind::kBytes;
  } else if (type == "hash") {
    kind_ = Kind::kPairs;
  } else if (type == "set") {
    kind_ = Kind::kMembers;
  } else if (type == "zset") {
    kind_ = Kind::kScored;
  } else {
    kind_ = Kind::kSequence;
  }
  if (kind_ == Kind::kBytes || kind_ == Kind::kSequence) {
    state_ = XXH3_createState();
    XXH3_128bits_reset(state_);
  }
}

ValueDigest::~ValueDigest() { XXH3_freeState(state_); }

engine::Status ValueDigest::Add(const std::vector<std::string>& elements) {
  switch (kind_) {
    case Kind::kBytes:
      for (const std::string& piece : elements) {
        XXH3_128bits_update(state_, piece.data(), piece.size());
      }
      return engine::Status::Ok();
    case Kind::kSequence:
      for (const std::string& element : elements) {
        scratch_.clear();
        AppendLengthPrefixed(element, &scratch_);
        XXH3_128bits_update(state_, scratch_.data(), scratch_.size());
      }
      return engine::Status::Ok();
    case Kind::kMembers:
      for (const std::string& member : elements) {
        sum_.Add(Hash(member));
      }
      return engine::Status::Ok();
    case Kind::kPairs:
    case Kind::kScored:
      break;
  }
  if (elements.size() % 2 != 0) {
    return engine::Corruption("a hash or sorted set page had an odd number of elements");
  }
  for (size_t i = 0; i < elements.size(); i += 2) {
    scratch_.clear();
    AppendLengthPrefixed(elements[i], &scratch_);
    if (kind_ == Kind::kPairs) {
      scratch_.append(elements[i + 1]);
    } else {
      const std::string& text = elements[i + 1];
      errno = 0;
      char* end = nullptr;
      double score = std::strtod(text.c_str(), &end);
      if (text.empty() || end != text.c_str() + text.size() || errno == EINVAL) {
        return engine::Corruption("a sorted set score '" + text.substr(0, 40) +
                                  "' is not a number");
      }
      if (score == 0) {
        score = 0;  // -0 and 0 are the same score to Redis
      }
      char bytes[sizeof score];
      std::memcpy(bytes, &score, sizeof score);
      scratch_.append(bytes, sizeof bytes);
    }
    sum_.Add(Hash(scratch_));
  }
  return engine::Status::Ok();
}

std::string ValueDigest::Finish() {
  Digest128 digest;
  int64_t count = 0;
  if (state_ != nullptr) {
    XXH128_hash_t hash = XXH3_128bits_digest(state_);
    digest = Digest128{hash.low64, hash.high64};
  } else {
    digest = sum_.sum();
    count = sum_.rows();
  }
  return "x" + std::to_string(count) + ":" + digest.ToHex();
}

std::string GroupsDigest(const std::vector<std::string>& groups) {
  if (groups.empty()) {
    return "";
  }
  std::string all;
  for (const std::string& group : groups) {
    AppendLengthPrefixed(group, &all);
  }
  return Hash(all).ToHex();
}

}  // namespace tandem::checksum
