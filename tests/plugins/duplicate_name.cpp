// A plugin that registers a name the framework already has.
#include "auxgrid/models/model.hpp"

namespace {
auxgrid::models::EmotionModel make(const auxgrid::Config&, const auxgrid::models::ModelDims&) { return nullptr; }
}  // namespace

AUXGRID_REGISTER_MODEL("auxformer", "a second auxformer", {}, make);
