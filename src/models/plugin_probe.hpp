#pragma once
// Loading a plugin in a child process first (models::load_plugin): what its
// static initialisers do while loading (throw, exit, crash, hang) happens
// there, and this process reports it with the plugin's name.
#include <string>

namespace auxgrid::models {

// dlopen()s `path` in a forked child. Returns normally when it loaded there;
// otherwise throws auxgrid::Error naming `shown`: the loader's message, the
// exception a static initialiser threw, the exit code or signal that ended the
// child, or a load that took longer than `timeout_seconds`.
void probe_plugin(const std::string& path, const std::string& shown, double timeout_seconds = 300);

}  // namespace auxgrid::models
