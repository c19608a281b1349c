// OpenTiers: builds the tiers a Config describes, in order, each with its emulation.
//
// The one place that knows every tier kind's options; the Backend only sees Tier*.
// Thread-safety: stateless.
#ifndef TIERSWAP_FRONTEND_TIER_FACTORY_H_
#define TIERSWAP_FRONTEND_TIER_FACTORY_H_

#include <memory>
#include <vector>

#include "frontend/config.h"
#include "tiers/result.h"
#include "tiers/tier.h"

namespace tierswap {

// Opens one tier. Errors name the config source and the tier.
Result<std::unique_ptr<Tier>> OpenTier(const TierConfig& tier, const std::string& source);

// Opens every tier of `config`; on failure nothing stays open.
Result<std::vector<std::unique_ptr<Tier>>> OpenTiers(const Config& config);

}  // namespace tierswap

#endif  // TIERSWAP_FRONTEND_TIER_FACTORY_H_
