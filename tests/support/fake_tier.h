// Test support: FakeTier, a tier of a few frames in plain memory whose operations a test can
// interrupt and break, for the mover's and the policies' tests:
//   - on_store runs inside every store (MoveIn included) before the copy: a test injects there
//     the store, invalidation or area reset that races a page move;
//   - fail_loads makes every load (MoveOut included) fail, as a broken medium would.
// It keeps every handle's bytes, so a test can tell which copies are still alive.
//
// Thread-safety: as any Tier, for distinct handles; the hooks are the test's business.
#ifndef TIERSWAP_TESTS_SUPPORT_FAKE_TIER_H_
#define TIERSWAP_TESTS_SUPPORT_FAKE_TIER_H_

#include <cstring>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "tiers/page.h"
#include "tiers/tier.h"

namespace tierswap::testing {

class FakeTier final : public Tier {
 public:
  FakeTier(std::string name, size_t frames, TierKind kind = TierKind::kDram)
      : Tier(std::move(name), kind), frames_(frames * kPageSize), used_(frames, false) {}

  std::function<void()> on_store;
  bool fail_loads = false;

  // Pages held now.
  size_t live() const {
    std::lock_guard<std::mutex> lock(mu_);
    size_t n = 0;
    for (bool u : used_) n += u;
    return n;
  }

 protected:
  Status DoStore(const void* page, TierHandle* handle) override {
    if (on_store) on_store();
    std::lock_guard<std::mutex> lock(mu_);
    for (size_t i = 0; i < used_.size(); ++i) {
      if (!used_[i]) {
        used_[i] = true;
        std::memcpy(frames_.data() + i * kPageSize, page, kPageSize);
        *handle = i;
        return Status::kOk;
      }
    }
    return Status::kNoSpace;
  }
  Status DoLoad(TierHandle handle, void* page) override {
    if (fail_loads) return Status::kIoError;
    std::lock_guard<std::mutex> lock(mu_);
    if (handle >= used_.size() || !used_[handle]) return Status::kNotFound;
    std::memcpy(page, frames_.data() + handle * kPageSize, kPageSize);
    return Status::kOk;
  }
  void DoFree(TierHandle handle) override {
    std::lock_guard<std::mutex> lock(mu_);
    used_[handle] = false;
  }
  uint64_t DoCapacityBytes() const override { return used_.size() * kPageSize; }
  uint64_t DoUsedBytes() const override { return live() * kPageSize; }

 private:
  mutable std::mutex mu_;
  std::vector<unsigned char> frames_;
  std::vector<bool> used_;
};

}  // namespace tierswap::testing

#endif  // TIERSWAP_TESTS_SUPPORT_FAKE_TIER_H_
