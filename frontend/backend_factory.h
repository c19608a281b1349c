// Backend factory: builds the engine a Config describes: its tiers, in order, each with its
// emulation, and the engine's options from the [backend], [placement], [[quota]] and [stats]
// tables.
//
// The one place that knows every tier kind's options and how a config maps onto the engine;
// the engine (placement/backend.h) only sees Tier* and BackendOptions.
// Thread-safety: stateless.
#ifndef TIERSWAP_FRONTEND_BACKEND_FACTORY_H_
#define TIERSWAP_FRONTEND_BACKEND_FACTORY_H_

#include <memory>
#include <vector>

#include "frontend/config.h"
#include "placement/backend.h"
#include "tiers/result.h"
#include "tiers/tier.h"

namespace tierswap {

// Opens one tier. Errors name the config source and the tier.
Result<std::unique_ptr<Tier>> OpenTier(const TierConfig& tier, const std::string& source);

// Opens every tier of `config`; on failure nothing stays open.
Result<std::vector<std::unique_ptr<Tier>>> OpenTiers(const Config& config);

// The engine's options that `config` states.
BackendOptions BackendOptionsOf(const Config& config);

// Opens every tier of `config` (in order) and returns a backend with no type initialised.
Result<std::unique_ptr<Backend>> OpenBackend(const Config& config);

}  // namespace tierswap

#endif  // TIERSWAP_FRONTEND_BACKEND_FACTORY_H_
