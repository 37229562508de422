// A plugin built against a function that no one defines: loading must fail
// with an error that names the file and the symbol.
#include "auxgrid/models/model.hpp"

void auxgrid_function_that_does_not_exist();

namespace {
auxgrid::models::EmotionModel make(const auxgrid::Config&, const auxgrid::models::ModelDims&) {
  auxgrid_function_that_does_not_exist();
  return nullptr;
}
}  // namespace

AUXGRID_REGISTER_MODEL("undefined_symbol_model", "never loads", {}, make);
