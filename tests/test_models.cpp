#define BOOST_TEST_MODULE models
#include <fmt/format.h>
#include <torch/torch.h>

#include <boost/test/unit_test.hpp>

#include "auxgrid/data/corpus.hpp"
#include "auxgrid/data/synth.hpp"
#include "auxgrid/models/blocks.hpp"
#include "auxgrid/models/kernels.hpp"
#include "auxgrid/models/model.hpp"
#include "expect_error.hpp"
#include "model_variants.hpp"

using namespace auxgrid;
namespace tt = boost::test_tools;

namespace {
store::CorpusData tiny_corpus() {
  auto o = data::synth_preset("tiny");
  o.speakers = 3, o.utterances_per_speaker = 4, o.video_dim = 8, o.min_audio_frames = 5, o.max_audio_frames = 40;
  return data::synthesize(o, 0);
}
const models::ModelDims kTinyDims{130, 8, 4};

// A model at the paper's input sizes with its own setting defaults.
std::int64_t paper_count(const std::string& name, std::int64_t classes, const std::string& modality = "audio") {
  auto c = Config::defaults();
  c.set("model.name", name);
  c.set("model.modality", modality);
  apply_model_defaults(c);
  return models::count_parameters(*models::make_model(c, {130, 4096, classes}));
}

double relative_gap(std::int64_t count, std::int64_t target) {
  return std::abs(static_cast<double>(count - target)) / static_cast<double>(target);
}

// This LibTorch build starts with one intra-op thread: two, so that the
// kernels' work splits and partial sums across threads are what is tested.
struct TwoThreads {
  TwoThreads() { torch::set_num_threads(2); }
};
BOOST_TEST_GLOBAL_FIXTURE(TwoThreads);
}  // namespace

BOOST_AUTO_TEST_CASE(table5_parameter_counts) {
  // Exact where MODELS.md fixes the architecture.
  BOOST_TEST(paper_count("auxformer", 4) == 7054748);
  BOOST_TEST(paper_count("baseline1", 4) == 4776994);
  BOOST_TEST(paper_count("mult", 4) == 358384);
  BOOST_TEST(paper_count("mult_up", 6) == 7070406);
  // Within 10 % where the paper leaves choices open (documented in the sources).
  BOOST_TEST(paper_count("xmodal", 4) == 2186868);
  BOOST_TEST(relative_gap(paper_count("xmodal", 4), 2211628) < 0.10);
  BOOST_TEST(relative_gap(paper_count("xmodal_up", 6), 7125278) < 0.10);
  BOOST_TEST(relative_gap(paper_count("unimodal", 4, "audio"), 4364354) < 0.10);
  BOOST_TEST(relative_gap(paper_count("unimodal", 4, "video"), 4364354) < 0.10);
}

BOOST_AUTO_TEST_CASE(every_model_and_ablation_has_heads_losses_and_gradients) {
  const auto corpus = tiny_corpus();
  const auto batch = data::make_batch(corpus, {0, 1, 2, 3, 4});
  for (const auto& variant : model_variants()) {
    BOOST_TEST_CONTEXT(variant.name) {
      const auto config = tiny_variant_config(variant);
      torch::manual_seed(0);
      auto model = models::make_model(config, kTinyDims);
      model->train();
      const auto heads = model->forward(batch);
      for (const auto& h : heads) BOOST_TEST(h.logits.sizes() == (std::vector<std::int64_t>{5, 4}));
      BOOST_TEST(models::combined_logits(heads).sizes() == (std::vector<std::int64_t>{5, 4}));
      auto loss = models::weighted_loss(heads, batch.labels);
      BOOST_TEST(std::isfinite(loss.item<double>()));
      loss.backward();
      // Every parameter that should learn gets a gradient; with lambda_a = 0
      // the audio auxiliary encoder has no loss to learn from.
      const bool audio_aux_idle = config.real("train.lambda_a") == 0;
      for (const auto& p : model->named_parameters()) {
        if (audio_aux_idle && p.key().rfind("audio_aux.", 0) == 0) continue;
        const bool learns = p.value().grad().defined() && p.value().grad().abs().sum().item<double>() > 0;
        BOOST_TEST(learns, p.key() << " gets no gradient");
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(auxformer_and_baseline1_heads) {
  const auto batch = data::make_batch(tiny_corpus(), {0, 1});
  const auto aux = models::make_model(tiny_variant_config({"", {{"model.name", "auxformer"}}}), kTinyDims);
  const auto heads = aux->forward(batch);
  BOOST_REQUIRE(heads.size() == 3u);
  BOOST_TEST(heads[0].head == "av");
  BOOST_TEST(heads[0].weight == 1.0 / 3);
  // Inference averages the weighted heads; a zero-weight head does not count.
  auto expected = (heads[0].logits + heads[1].logits + heads[2].logits) / 3;
  BOOST_TEST(torch::allclose(models::combined_logits(heads), expected));
  auto without_a = heads;
  without_a[1].weight = 0;
  BOOST_TEST(torch::allclose(models::combined_logits(without_a), (heads[0].logits + heads[2].logits) / 2));
  const auto b1 = models::make_model(tiny_variant_config({"", {{"model.name", "baseline1"}}}), kTinyDims);
  BOOST_TEST(b1->forward(batch).size() == 1u);
}

BOOST_AUTO_TEST_CASE(padding_does_not_leak_with_masks) {
  const auto corpus = tiny_corpus();
  // The shortest utterance alone, then beside longer ones (more padding for it).
  std::int64_t shortest = 0;
  const auto length = [&](std::int64_t u) { return corpus.audio_offsets[u + 1] - corpus.audio_offsets[u]; };
  for (std::int64_t u = 1; u < corpus.info.num_utterances; ++u)
    if (length(u) < length(shortest)) shortest = u;
  std::vector<std::int64_t> crowd{shortest};
  for (std::int64_t u = 0; u < corpus.info.num_utterances; ++u)
    if (u != shortest) crowd.push_back(u);
  const auto alone = data::make_batch(corpus, {shortest});
  const auto padded = data::make_batch(corpus, crowd);
  BOOST_REQUIRE(padded.audio.size(1) > alone.audio.size(1));

  torch::NoGradGuard no_grad;
  for (const auto& variant : model_variants()) {
    BOOST_TEST_CONTEXT(variant.name) {
      const auto config = tiny_variant_config(variant);
      torch::manual_seed(1);
      auto model = models::make_model(config, kTinyDims);
      model->eval();
      const auto a = models::combined_logits(model->forward(alone))[0];
      const auto b = models::combined_logits(model->forward(padded))[0];
      const double gap = (a - b).abs().max().item<double>();
      if (config.flag("model.padding_mask"))
        BOOST_TEST(gap < 1e-5);
      else
        BOOST_TEST(gap > 1e-4);  // the reference behaviour attends over padding
    }
  }
}

BOOST_AUTO_TEST_CASE(positional_encoding_tokens_and_cls) {
  auto mask = torch::tensor({1, 1, 1, 0}, torch::kBool).view({1, 4});
  auto pe = models::sinusoidal_encoding(mask, 6);
  BOOST_TEST(pe.sizes() == (std::vector<std::int64_t>{1, 4, 6}));
  BOOST_TEST(pe[0][0][0].item<float>() == std::sin(1.0f), boost::test_tools::tolerance(1e-6f));  // position 1
  BOOST_TEST(pe[0][1][3].item<float>() == std::cos(2.0f), boost::test_tools::tolerance(1e-6f));  // cos half
  BOOST_TEST(pe[0][3].abs().sum().item<float>() == 0.0f);  // padding
  auto x = torch::arange(8, torch::kFloat).view({2, 4, 1});
  auto m = torch::tensor({1, 1, 0, 0, 1, 1, 1, 1}, torch::kBool).view({2, 4});
  BOOST_TEST(models::pool(x, m, models::Token::last)[0][0].item<float>() == 1.0f);
  BOOST_TEST(models::pool(x, m, models::Token::last)[1][0].item<float>() == 7.0f);
  BOOST_TEST(models::pool(x, m, models::Token::mean)[0][0].item<float>() == 0.5f);
  BOOST_TEST(models::pool(x, m, models::Token::mean)[1][0].item<float>() == 5.5f);
  BOOST_TEST(models::summary(x, m, models::Token::last, false)[0][0].item<float>() == 3.0f);  // reference: last step
  auto [with_cls, cls_mask] = models::prepend_cls(x, m, torch::full({1}, -1.0f));
  BOOST_TEST(with_cls.size(1) == 5);
  BOOST_TEST(models::pool(with_cls, cls_mask, models::Token::cls)[1][0].item<float>() == -1.0f);
  BOOST_TEST(cls_mask[0].sum().item<std::int64_t>() == 3);
}

BOOST_AUTO_TEST_CASE(model_settings_are_checked) {
  auto c = tiny_variant_config({"", {{"model.name", "auxformer"}}});
  c.set("model.heads", std::int64_t{3});
  expect_error([&] { models::make_model(c, kTinyDims); }, {"width 16", "3 heads"});
  c.set("model.heads", std::int64_t{2});
  for (const char* key : {"train.lambda_av", "train.lambda_a", "train.lambda_v"}) c.set(key, 0.0);
  expect_error([&] { models::make_model(c, kTinyDims); }, {"all zero"});
  c.set("model.name", std::string("nonesuch"));
  expect_error([&] { models::make_model(c, kTinyDims); }, {"unknown model 'nonesuch'", "auxformer, baseline1"});
}

BOOST_AUTO_TEST_CASE(model_defaults_apply_unless_set) {
  auto c = Config::defaults();
  c.set("model.name", std::string("mult"));
  apply_model_defaults(c);
  BOOST_TEST(c.integer("model.width") == 30);
  BOOST_TEST(c.real("model.out_dropout") == 0.0);
  auto d = Config::defaults();
  d.set("model.name", std::string("mult"));
  d.set("model.width", std::int64_t{12});
  apply_model_defaults(d, {"model.width"});
  BOOST_TEST(d.integer("model.width") == 12);
  BOOST_TEST(d.integer("model.heads") == 5);
}

BOOST_AUTO_TEST_CASE(plugins_load_and_fail_clearly) {
  const std::string dir = AUXGRID_TEST_PLUGINS;
  expect_error([] { models::load_plugin("/no/such/libplugin.so"); }, {"/no/such/libplugin.so"});
  expect_error([&] { models::load_plugin(dir + "/libbroken_undefined_symbol.so"); },
               {"libbroken_undefined_symbol.so", "undefined symbol", "auxgrid_function_that_does_not_exist"});
  expect_error([&] { models::load_plugin(dir + "/libbroken_duplicate_name.so"); },
               {"libbroken_duplicate_name.so", "'auxformer'"});
  expect_error([&] { models::load_plugin(dir + "/libbroken_no_model.so"); },
               {"libbroken_no_model.so", "registers no model"});

  const auto names = models::load_plugin(AUXGRID_EXAMPLE_PLUGIN);
  BOOST_TEST(names == (std::vector<std::string>{"bilstm"}));
  BOOST_TEST(models::load_plugin(AUXGRID_EXAMPLE_PLUGIN).empty());  // loading twice is a no-op
  BOOST_TEST(models::model_registry().contains("auxformer"));       // the failed duplicate changed nothing
  auto c = tiny_variant_config({"", {{"model.name", "bilstm"}}});
  auto model = models::make_model(c, kTinyDims);
  const auto heads = model->forward(data::make_batch(tiny_corpus(), {0, 1, 2}));
  BOOST_TEST(models::combined_logits(heads).sizes() == (std::vector<std::int64_t>{3, 4}));
}

// Restores the process's kernels when a test case ends.
struct KernelsGuard {
  models::Kernels saved = models::kernels();
  ~KernelsGuard() { models::set_kernels(saved); }
};

BOOST_AUTO_TEST_CASE(fast_dropout_keeps_one_minus_p_scaled_and_follows_torch_seed) {
  KernelsGuard guard;
  models::set_kernels(models::Kernels::fast);
  const auto x = torch::ones({1000, 1000});
  for (double p : {0.1, 0.25, 0.5}) {
    const auto y = models::dropout(x, p, true);
    const double kept = y.ne(0).to(torch::kDouble).mean().item<double>();
    BOOST_TEST(std::abs(kept - (1 - p)) < 0.003, "p=" << p << " kept " << kept);  // 1e6 draws: sd 0.0005
    BOOST_TEST(y.max().item<float>() == static_cast<float>(1 / (1 - p)), tt::tolerance(1e-6f));
    BOOST_TEST(y.mean().item<double>() == 1.0, tt::tolerance(0.01));  // inverted dropout keeps the mean
  }
  // Elements 1, 16 (a vector) and 130 (a row of the model) apart, and the
  // masks of two seeds, are independent: a pair is dropped at the rate p^2.
  const auto d = models::dropout(x, 0.5, true).eq(0).view({-1}), e = models::dropout(x, 0.5, true).eq(0).view({-1});
  const auto both_rate = [](const at::Tensor& a, const at::Tensor& b) {
    return (a & b).to(torch::kDouble).mean().item<double>();
  };
  for (const std::int64_t lag : {1, 16, 130}) {
    const double both = both_rate(d.slice(0, 0, -lag), d.slice(0, lag));
    BOOST_TEST(std::abs(both - 0.25) < 0.003, "lag " << lag << ": both dropped at " << both);  // sd 0.0004
  }
  BOOST_TEST(std::abs(both_rate(d, e) - 0.25) < 0.003);
  BOOST_TEST(models::dropout(x, 0.5, false).equal(x));  // eval: identity
  torch::manual_seed(7);
  const auto a = models::dropout(x, 0.3, true);
  torch::manual_seed(7);
  BOOST_TEST(models::dropout(x, 0.3, true).equal(a));
  BOOST_TEST(!models::dropout(x, 0.3, true).equal(a));  // the generator moved on
  // Gradients flow through the kept elements only, scaled.
  auto w = torch::ones({4, 5}, torch::requires_grad());
  auto out = models::dropout(w, 0.5, true);
  out.sum().backward();
  BOOST_TEST(w.grad().equal(out.detach()));
}

BOOST_AUTO_TEST_CASE(fused_linear_relu_dropout_equals_the_three_steps_with_their_gradients) {
  KernelsGuard guard;
  models::set_kernels(models::Kernels::fast);
  const auto x0 = torch::randn({3, 37, 19}), w0 = torch::randn({41, 19}), b0 = torch::randn({41});
  const auto upstream = torch::randn({3, 37, 41});
  auto fused_x = x0.clone().requires_grad_(), separate_x = x0.clone().requires_grad_();
  auto fused_w = w0.clone().requires_grad_(), separate_w = w0.clone().requires_grad_();
  auto fused_b = b0.clone().requires_grad_(), separate_b = b0.clone().requires_grad_();
  torch::manual_seed(5);
  const auto fused = models::linear_relu_dropout(fused_x, fused_w, fused_b, 0.3, true);
  torch::manual_seed(5);
  const auto separate = models::dropout(torch::relu(torch::linear(separate_x, separate_w, separate_b)), 0.3, true);
  BOOST_TEST(torch::allclose(fused, separate, 1e-5, 1e-5));
  const auto relu_zeros = torch::linear(x0, w0, b0).le(0).sum().item<std::int64_t>();
  BOOST_TEST(fused.eq(0).sum().item<std::int64_t>() > relu_zeros);  // dropout did drop
  (fused * upstream).sum().backward();
  (separate * upstream).sum().backward();
  BOOST_TEST(torch::allclose(fused_x.grad(), separate_x.grad(), 1e-4, 1e-4));
  BOOST_TEST(torch::allclose(fused_w.grad(), separate_w.grad(), 1e-4, 1e-4));
  BOOST_TEST(torch::allclose(fused_b.grad(), separate_b.grad(), 1e-4, 1e-4));
  // Without dropout: oneDNN's product against LibTorch's, which round differently.
  BOOST_TEST(torch::allclose(models::linear_relu_dropout(x0, w0, b0, 0.3, false),
                             torch::relu(torch::linear(x0, w0, b0)), 1e-5, 1e-5));
}

BOOST_AUTO_TEST_CASE(fused_residual_step_equals_its_composition_with_gradients) {
  KernelsGuard guard;
  models::set_kernels(models::Kernels::fast);
  for (const bool scaled : {false, true}) {
    // 37 columns: whole vectors of the fused kernels and a partial one.
    const auto x0 = torch::randn({3, 29, 37}), in0 = torch::randn({3, 29, 19}), w0 = torch::randn({37, 19}),
               b0 = torch::randn({37}), alpha0 = torch::rand({1});
    const auto upstream = torch::randn({3, 29, 37});
    std::vector<at::Tensor> fused_inputs, separate_inputs;
    for (const auto& t : {x0, in0, w0, b0, alpha0}) {
      fused_inputs.push_back(t.clone().requires_grad_());
      separate_inputs.push_back(t.clone().requires_grad_());
    }
    const auto alpha = [&](const std::vector<at::Tensor>& v) { return scaled ? v[4] : at::Tensor(); };
    torch::manual_seed(3);
    const auto& f = fused_inputs;
    const auto fused = models::residual_linear_dropout(f[0], f[1], f[2], f[3], alpha(f), 0.3, true);
    torch::manual_seed(3);
    const auto& r = separate_inputs;
    const auto separate = models::residual_dropout(r[0], torch::linear(r[1], r[2], r[3]), alpha(r), 0.3, true);
    BOOST_TEST(torch::allclose(fused, separate, 1e-5, 1e-5), "scaled " << scaled);
    (fused * upstream).sum().backward();
    (separate * upstream).sum().backward();
    for (int i = 0; i < (scaled ? 5 : 4); ++i)
      BOOST_TEST(torch::allclose(f[i].grad(), r[i].grad(), 1e-4, 1e-4),
                 "scaled " << scaled << ", gradient " << i << " differs by "
                           << (f[i].grad() - r[i].grad()).abs().max().item<float>());
  }
}

BOOST_AUTO_TEST_CASE(fused_layer_norm_equals_torch_layer_norm_with_gradients) {
  KernelsGuard guard;
  models::set_kernels(models::Kernels::fast);
  for (const std::int64_t width : {11, 37, 130}) {  // a partial vector only, whole and partial, the model's width
    // A large mean: the variance must not cancel.
    const auto x0 = torch::randn({3, 29, width}) * 3 + 100, w0 = torch::randn({width}), b0 = torch::randn({width});
    const auto upstream = torch::randn({3, 29, width});
    std::vector<at::Tensor> fused, reference;
    for (const auto& t : {x0, w0, b0}) {
      fused.push_back(t.clone().requires_grad_());
      reference.push_back(t.clone().requires_grad_());
    }
    const auto y = models::layer_norm(fused[0], fused[1], fused[2], 1e-5);
    const auto expected = torch::layer_norm(reference[0], {width}, reference[1], reference[2], 1e-5);
    BOOST_TEST(torch::allclose(y, expected, 1e-4, 1e-4), "width " << width);
    (y * upstream).sum().backward();
    (expected * upstream).sum().backward();
    for (int i = 0; i < 3; ++i)
      BOOST_TEST(torch::allclose(fused[i].grad(), reference[i].grad(), 1e-3, 1e-3),
                 "width " << width << ", gradient " << i << " differs by "
                          << (fused[i].grad() - reference[i].grad()).abs().max().item<float>());
  }
}

#ifdef AUXGRID_LINEAR_ONEDNN
constexpr bool kLinearOneDnn = true;
#else
constexpr bool kLinearOneDnn = false;  // models::linear is torch::linear itself: nothing to compare
#endif

BOOST_AUTO_TEST_CASE(fast_linear_matches_torch_linear_with_its_gradients,
                     *boost::unit_test::enable_if<kLinearOneDnn>()) {
  KernelsGuard guard;
  models::set_kernels(models::Kernels::fast);
  torch::manual_seed(9);
  // 92, 276 and 1104 rows: below and above the row counts from which the
  // weight is transposed first and its gradient split over threads.
  BOOST_TEST_REQUIRE(torch::get_num_threads() == 2);  // TwoThreads
  for (const auto [with_bias, batch] : {std::pair{true, 4}, {false, 4}, {true, 12}, {false, 12}, {true, 48}}) {
    // A batch-first 3-D input that is a transposed view, as layers receive them.
    auto x = torch::randn({23, batch, 17}, torch::requires_grad()), w = torch::randn({11, 17}, torch::requires_grad()),
         b = torch::randn({11}, torch::requires_grad());
    const auto input = x.transpose(0, 1);
    const auto bias = with_bias ? b : at::Tensor();
    const auto upstream = torch::randn({batch, 23, 11});
    const auto fast = models::linear(input, w, bias);
    (fast * upstream).sum().backward();
    const std::vector<at::Tensor> grads{x.grad().clone(), w.grad().clone()};
    const auto b_grad = with_bias ? b.grad().clone() : at::Tensor();
    for (auto* t : {&x, &w, &b})
      if (t->grad().defined()) t->mutable_grad().zero_();
    const auto reference = torch::linear(input, w, bias);
    (reference * upstream).sum().backward();
    BOOST_TEST(torch::allclose(fast, reference, 1e-5, 1e-5), "bias " << with_bias << ", batch " << batch);
    BOOST_TEST(torch::allclose(grads[0], x.grad(), 1e-5, 1e-5), "input gradient, bias " << with_bias);
    BOOST_TEST(torch::allclose(grads[1], w.grad(), 1e-4, 1e-5), "weight gradient, bias " << with_bias);
    if (with_bias) BOOST_TEST(torch::allclose(b_grad, b.grad(), 1e-4, 1e-5));
  }
  // One row (a batch of one summary vector): the bias is left as it was.
  const auto x = torch::randn({1, 17}), w = torch::randn({11, 17}), b = torch::randn({11}), b_before = b.clone();
  BOOST_TEST(torch::allclose(models::linear(x, w, b), torch::linear(x, w, b_before), 1e-5, 1e-5));
  BOOST_TEST(b.equal(b_before));
}

BOOST_AUTO_TEST_CASE(fast_and_plain_kernels_compute_the_same_model) {
  KernelsGuard guard;
  const auto corpus = tiny_corpus();
  for (const auto& v : model_variants()) {
    torch::manual_seed(3);
    auto c = tiny_variant_config(v);
    auto model = models::make_model(c, kTinyDims);
    model->eval();
    const auto batch = data::make_batch(corpus, {0, 5, 9, 11});
    models::set_kernels(models::Kernels::plain);
    const auto plain = models::combined_logits(model->forward(batch));
    models::set_kernels(models::Kernels::fast);
    const auto fast = models::combined_logits(model->forward(batch));
    BOOST_TEST(torch::allclose(plain, fast, 1e-4, 1e-5),
               v.name << ": max difference " << (plain - fast).abs().max().item<float>());
  }
}

BOOST_AUTO_TEST_CASE(fused_attention_matches_the_materialised_one_with_its_gradients) {
  torch::manual_seed(11);
  // Query counts around the kernel's 8-row tiles, key counts around its
  // 16-key vectors, head sizes of one and two vectors; cross-attention (q
  // and [k v] projections) and self-attention (one packed [q k v]).
  struct Case {
    std::int64_t t, s, d;
    bool self;
  };
  for (const auto [t, s, d, self] :
       {Case{7, 19, 5, false}, Case{21, 37, 13, false}, Case{9, 40, 20, false}, Case{19, 19, 13, true}}) {
    const std::int64_t b = 3, h = 3, width = h * d;
    auto key_padding = torch::zeros({b, s}, torch::kBool);
    key_padding[1].slice(0, 12).fill_(true);  // the second sequence has 12 real keys
    key_padding[2][3] = true;                 // the third a hole
    for (double p : {0.0, 0.3}) {
      auto query = torch::randn({b, t, self ? 3 * width : width}, torch::requires_grad());
      auto keys_values = self ? at::Tensor() : torch::randn({b, s, 2 * width}, torch::requires_grad());
      const std::uint64_t seed = 12345;
      const auto fused = models::multi_head_attention_with_seed(query, keys_values, h, key_padding, p, true, seed);
      const auto upstream = torch::randn({b, t, width});
      (fused * upstream).sum().backward();
      const std::vector<at::Tensor> fused_grads{query.grad().clone(),
                                                self ? at::Tensor() : keys_values.grad().clone()};
      query.mutable_grad().zero_();
      if (!self) keys_values.mutable_grad().zero_();

      // The same computation per head with the score matrix materialised and the same mask.
      const auto& kv = self ? query : keys_values;
      const auto heads = [&](const at::Tensor& x, std::int64_t offset) {
        return x.narrow(2, offset, width).view({b, x.size(1), h, d}).transpose(1, 2);
      };
      const auto q = heads(query, 0) / std::sqrt(static_cast<double>(d));
      const auto k = heads(kv, self ? width : 0), v = heads(kv, self ? 2 * width : width);
      auto scores = torch::matmul(q, k.transpose(-2, -1)).masked_fill(key_padding.view({b, 1, 1, s}), -INFINITY);
      auto attn = torch::softmax(scores, -1);
      if (p > 0) attn = attn * models::dropout_mask(seed, {b, h, t, s}, p);
      const auto reference = torch::matmul(attn, v).transpose(1, 2).reshape({b, t, width});
      (reference * upstream).sum().backward();
      const auto where = [&, t = t, s = s, d = d, self = self] {
        return fmt::format("t={} s={} d={} self={} p={}", t, s, d, self, p);
      };
      BOOST_TEST(torch::allclose(fused, reference, 1e-5, 1e-5),
                 where() << ": output differs by " << (fused - reference).abs().max().item<float>());
      for (int i = 0; i < (self ? 1 : 2); ++i) {
        const auto& expected = i == 0 ? query.grad() : keys_values.grad();
        BOOST_TEST(torch::allclose(fused_grads[i], expected, 1e-4, 1e-5),
                   where() << ": gradient of " << (i == 0 ? "query" : "keys_values") << " differs by "
                           << (fused_grads[i] - expected).abs().max().item<float>());
      }
    }
  }
}

// The three ways multi_head_attention can compute (kernels.hpp's AttentionKernel),
// forced one after the other on the same projections, without dropout (each
// draws its own masks): outputs and gradients agree, with padding.
BOOST_AUTO_TEST_CASE(fused_sdpa_and_materialised_attention_agree_with_padding) {
  KernelsGuard guard;
  models::set_kernels(models::Kernels::fast);
  struct AttentionGuard {
    ~AttentionGuard() { models::set_attention(std::nullopt); }
  } attention_guard;
  torch::manual_seed(21);
  const std::int64_t b = 3, t = 17, s = 23, h = 2, width = 26;
  auto key_padding = torch::zeros({b, s}, torch::kBool);
  key_padding[1].slice(0, 15).fill_(true);  // two sequences shorter than the batch's longest
  key_padding[2].slice(0, 4).fill_(true);
  const auto query0 = torch::randn({b, t, width}), keys_values0 = torch::randn({b, s, 2 * width});
  const auto upstream = torch::randn({b, t, width});
  struct Run {
    at::Tensor out, query_grad, keys_values_grad;
  };
  const auto run = [&](models::AttentionKernel how) {
    models::set_attention(how);
    auto query = query0.clone().requires_grad_(), keys_values = keys_values0.clone().requires_grad_();
    auto out = models::multi_head_attention(query, keys_values, h, key_padding, 0.0, true);
    (out * upstream).sum().backward();
    return Run{out.detach(), query.grad(), keys_values.grad()};
  };
  const auto fused = run(models::AttentionKernel::fused), materialised = run(models::AttentionKernel::materialised);
  const auto max_difference = [](const at::Tensor& a, const at::Tensor& b) {
    return (a - b).abs().max().item<float>();
  };
  const auto agree = [&](const Run& a, const Run& b, const char* what) {
    BOOST_TEST_MESSAGE(what << ": max difference of outputs " << max_difference(a.out, b.out) << ", of gradients "
                            << max_difference(a.query_grad, b.query_grad) << " (query), "
                            << max_difference(a.keys_values_grad, b.keys_values_grad) << " (keys and values)");
    BOOST_TEST(torch::allclose(a.out, b.out, 1e-5, 1e-5), what);
    BOOST_TEST(torch::allclose(a.query_grad, b.query_grad, 1e-4, 1e-5), what);
    BOOST_TEST(torch::allclose(a.keys_values_grad, b.keys_values_grad, 1e-4, 1e-5), what);
  };
  agree(fused, materialised, "fused vs materialised");
  if (models::sdpa_available()) {
    const auto sdpa = run(models::AttentionKernel::sdpa);
    agree(sdpa, fused, "sdpa vs fused");
    agree(sdpa, materialised, "sdpa vs materialised");
    // Unforced, CPU floats take the fused kernel, other tensors SDPA.
    models::set_attention(std::nullopt);
    BOOST_TEST((models::attention_for(query0) == models::AttentionKernel::fused));
    BOOST_TEST((models::attention_for(query0.to(torch::kDouble)) == models::AttentionKernel::sdpa));
  } else {
    expect_error([&] { run(models::AttentionKernel::sdpa); }, {"needs LibTorch 2.x"});
  }
  // The fused kernel cannot take doubles: a clear error, not a silent fallback.
  models::set_attention(models::AttentionKernel::fused);
  expect_error([&] { models::attention_for(query0.to(torch::kDouble)); }, {"attention 'fused' runs on CPU float"});
}

BOOST_AUTO_TEST_CASE(fused_attention_of_a_sequence_without_keys_is_zero) {
  torch::manual_seed(12);
  auto query = torch::randn({2, 5, 8}, torch::requires_grad()),
       keys_values = torch::randn({2, 6, 16}, torch::requires_grad());
  auto key_padding = torch::zeros({2, 6}, torch::kBool);
  key_padding[0].fill_(true);
  const auto out = models::multi_head_attention_with_seed(query, keys_values, 2, key_padding, 0.1, true, 7);
  out.sum().backward();
  BOOST_TEST(out[0].abs().max().item<float>() == 0.0f);
  BOOST_TEST(out[1].abs().min().item<float>() > 0.0f);
  for (const auto* x : {&query, &keys_values}) {
    BOOST_TEST(x->grad()[0].abs().max().item<float>() == 0.0f);
    BOOST_TEST(std::isfinite(x->grad().sum().item<float>()));
  }
}
