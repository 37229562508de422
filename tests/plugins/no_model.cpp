// A shared library that registers nothing (built without the macro).
extern "C" int auxgrid_not_a_model_plugin() { return 42; }
