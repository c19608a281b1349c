// Test support: slots of a PageIndex over a set of tiers, set and read the way the engine does
// (through LockedSlot), for the tests of the mover and the migrator that run without a Backend.
#ifndef TIERSWAP_TESTS_SUPPORT_SLOTS_H_
#define TIERSWAP_TESTS_SUPPORT_SLOTS_H_

#include <gtest/gtest.h>

#include <vector>

#include "placement/locked_slot.h"
#include "placement/page_index.h"
#include "tests/support/test_pages.h"

namespace tierswap::testing {

// Stores `page` on tier `t` and makes it slot (type, offset)'s page, as a store would.
inline void PutPage(PageIndex& index, const std::vector<Tier*>& tiers, unsigned type,
                    uint64_t offset, unsigned t, const PageBuf& page, uint32_t policy_bits = 0) {
  TierHandle h;
  ASSERT_EQ(tiers[t]->Store(page.data(), &h), Status::kOk);
  LockedSlot slot(*index.FindOrCreate(type, offset), tiers.data());
  slot.set_policy(policy_bits);
  slot.Publish(SlotLocation{EntryKind::kOnTier, t, h});
}

// Where the slot's page is.
inline SlotLocation SlotOf(PageIndex& index, const std::vector<Tier*>& tiers, unsigned type,
                           uint64_t offset) {
  LockedSlot slot(*index.Find(type, offset), tiers.data());
  return slot.location();
}

// The slot's page, read from its tier.
inline PageBuf ReadSlot(PageIndex& index, const std::vector<Tier*>& tiers, unsigned type,
                        uint64_t offset) {
  const SlotLocation loc = SlotOf(index, tiers, type, offset);
  PageBuf out{};
  EXPECT_EQ(loc.kind, EntryKind::kOnTier) << "offset " << offset;
  if (loc.kind == EntryKind::kOnTier) {
    EXPECT_EQ(tiers[loc.tier]->Load(loc.payload, out.data()), Status::kOk) << "offset " << offset;
  }
  return out;
}

}  // namespace tierswap::testing

#endif  // TIERSWAP_TESTS_SUPPORT_SLOTS_H_
