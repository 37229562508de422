#pragma once
#include <string>

namespace auxgrid {
std::string version();  // the project version, from CMake
}
