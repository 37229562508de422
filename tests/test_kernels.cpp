// auxgrid's kernels (src/kernels/) against LibTorch's own operators: the
// fused passes, dropout, linear layers, layer norm and the attention paths,
// outputs and gradients, within a tolerance where two implementations meet.
#define BOOST_TEST_MODULE kernels
#include <fmt/format.h>
#include <torch/torch.h>

#include <boost/test/unit_test.hpp>

#include "auxgrid/core/check.hpp"
#include "auxgrid/kernels/kernels.hpp"
#include "expect_error.hpp"

using namespace auxgrid;
namespace tt = boost::test_tools;

namespace {
// This LibTorch build starts with one intra-op thread: two, so that the
// kernels' work splits and partial sums across threads are what is tested.
struct TwoThreads {
  TwoThreads() { torch::set_num_threads(2); }
};
BOOST_TEST_GLOBAL_FIXTURE(TwoThreads);
}  // namespace

// Restores the process's kernels when a test case ends.
struct KernelsGuard {
  kernels::Mode saved = kernels::mode();
  ~KernelsGuard() { kernels::set_mode(saved); }
};
// Restores the automatic choice of attention path when a test case ends.
struct AttentionGuard {
  ~AttentionGuard() { kernels::set_attention(std::nullopt); }
};

BOOST_AUTO_TEST_CASE(fast_dropout_keeps_one_minus_p_scaled_and_follows_torch_seed) {
  KernelsGuard guard;
  kernels::set_mode(kernels::Mode::fast);
  const auto x = torch::ones({1000, 1000});
  for (double p : {0.1, 0.25, 0.5}) {
    const auto y = kernels::dropout(x, p, true);
    const double kept = y.ne(0).to(torch::kDouble).mean().item<double>();
    BOOST_TEST(std::abs(kept - (1 - p)) < 0.003, "p=" << p << " kept " << kept);  // 1e6 draws: sd 0.0005
    BOOST_TEST(y.max().item<float>() == static_cast<float>(1 / (1 - p)), tt::tolerance(1e-6f));
    BOOST_TEST(y.mean().item<double>() == 1.0, tt::tolerance(0.01));  // inverted dropout keeps the mean
  }
  // Elements 1, 16 (a vector) and 130 (a row of the model) apart, and the
  // masks of two seeds, are independent: a pair is dropped at the rate p^2.
  const auto d = kernels::dropout(x, 0.5, true).eq(0).view({-1}), e = kernels::dropout(x, 0.5, true).eq(0).view({-1});
  const auto both_rate = [](const at::Tensor& a, const at::Tensor& b) {
    return (a & b).to(torch::kDouble).mean().item<double>();
  };
  for (const std::int64_t lag : {1, 16, 130}) {
    const double both = both_rate(d.slice(0, 0, -lag), d.slice(0, lag));
    BOOST_TEST(std::abs(both - 0.25) < 0.003, "lag " << lag << ": both dropped at " << both);  // sd 0.0004
  }
  BOOST_TEST(std::abs(both_rate(d, e) - 0.25) < 0.003);
  BOOST_TEST(kernels::dropout(x, 0.5, false).equal(x));  // eval: identity
  torch::manual_seed(7);
  const auto a = kernels::dropout(x, 0.3, true);
  torch::manual_seed(7);
  BOOST_TEST(kernels::dropout(x, 0.3, true).equal(a));
  BOOST_TEST(!kernels::dropout(x, 0.3, true).equal(a));  // the generator moved on
  // Gradients flow through the kept elements only, scaled.
  auto w = torch::ones({4, 5}, torch::requires_grad());
  auto out = kernels::dropout(w, 0.5, true);
  out.sum().backward();
  BOOST_TEST(w.grad().equal(out.detach()));
}

BOOST_AUTO_TEST_CASE(fused_linear_relu_dropout_equals_the_three_steps_with_their_gradients) {
  KernelsGuard guard;
  kernels::set_mode(kernels::Mode::fast);
  const auto x0 = torch::randn({3, 37, 19}), w0 = torch::randn({41, 19}), b0 = torch::randn({41});
  const auto upstream = torch::randn({3, 37, 41});
  auto fused_x = x0.clone().requires_grad_(), separate_x = x0.clone().requires_grad_();
  auto fused_w = w0.clone().requires_grad_(), separate_w = w0.clone().requires_grad_();
  auto fused_b = b0.clone().requires_grad_(), separate_b = b0.clone().requires_grad_();
  torch::manual_seed(5);
  const auto fused = kernels::linear_relu_dropout(fused_x, fused_w, fused_b, 0.3, true);
  torch::manual_seed(5);
  const auto separate = kernels::dropout(torch::relu(torch::linear(separate_x, separate_w, separate_b)), 0.3, true);
  BOOST_TEST(torch::allclose(fused, separate, 1e-5, 1e-5));
  const auto relu_zeros = torch::linear(x0, w0, b0).le(0).sum().item<std::int64_t>();
  BOOST_TEST(fused.eq(0).sum().item<std::int64_t>() > relu_zeros);  // dropout did drop
  (fused * upstream).sum().backward();
  (separate * upstream).sum().backward();
  BOOST_TEST(torch::allclose(fused_x.grad(), separate_x.grad(), 1e-4, 1e-4));
  BOOST_TEST(torch::allclose(fused_w.grad(), separate_w.grad(), 1e-4, 1e-4));
  BOOST_TEST(torch::allclose(fused_b.grad(), separate_b.grad(), 1e-4, 1e-4));
  // Without dropout: oneDNN's product against LibTorch's, which round differently.
  BOOST_TEST(torch::allclose(kernels::linear_relu_dropout(x0, w0, b0, 0.3, false),
                             torch::relu(torch::linear(x0, w0, b0)), 1e-5, 1e-5));
}

BOOST_AUTO_TEST_CASE(fused_residual_step_equals_its_composition_with_gradients) {
  KernelsGuard guard;
  kernels::set_mode(kernels::Mode::fast);
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
    const auto fused = kernels::residual_linear_dropout(f[0], f[1], f[2], f[3], alpha(f), 0.3, true);
    torch::manual_seed(3);
    const auto& r = separate_inputs;
    const auto separate = kernels::residual_dropout(r[0], torch::linear(r[1], r[2], r[3]), alpha(r), 0.3, true);
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
  kernels::set_mode(kernels::Mode::fast);
  for (const std::int64_t width : {11, 37, 130}) {  // a partial vector only, whole and partial, the model's width
    // A large mean: the variance must not cancel.
    const auto x0 = torch::randn({3, 29, width}) * 3 + 100, w0 = torch::randn({width}), b0 = torch::randn({width});
    const auto upstream = torch::randn({3, 29, width});
    std::vector<at::Tensor> fused, reference;
    for (const auto& t : {x0, w0, b0}) {
      fused.push_back(t.clone().requires_grad_());
      reference.push_back(t.clone().requires_grad_());
    }
    const auto y = kernels::layer_norm(fused[0], fused[1], fused[2], 1e-5);
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
constexpr bool kLinearOneDnn = false;  // kernels::linear is torch::linear itself: nothing to compare
#endif

BOOST_AUTO_TEST_CASE(fast_linear_matches_torch_linear_with_its_gradients,
                     *boost::unit_test::enable_if<kLinearOneDnn>()) {
  KernelsGuard guard;
  kernels::set_mode(kernels::Mode::fast);
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
    const auto fast = kernels::linear(input, w, bias);
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
  BOOST_TEST(torch::allclose(kernels::linear(x, w, b), torch::linear(x, w, b_before), 1e-5, 1e-5));
  BOOST_TEST(b.equal(b_before));
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
      const auto fused = kernels::multi_head_attention_with_seed(query, keys_values, h, key_padding, p, true, seed);
      const auto upstream = torch::randn({b, t, width});
      (fused * upstream).sum().backward();
      const std::vector<at::Tensor> fused_grads{query.grad().clone(), self ? at::Tensor() : keys_values.grad().clone()};
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
      if (p > 0) attn = attn * kernels::dropout_mask(seed, {b, h, t, s}, p);
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
// draws its own masks): outputs and gradients agree, with padding, and with
// causal offsets that differ per sequence (the padded query rows included,
// whatever they hold).
BOOST_AUTO_TEST_CASE(fused_sdpa_and_materialised_attention_agree_with_padding) {
  KernelsGuard guard;
  kernels::set_mode(kernels::Mode::fast);
  AttentionGuard attention_guard;
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
  kernels::AttentionMask mask(key_padding);
  const auto run = [&](kernels::AttentionKernel how) {
    kernels::set_attention(how);
    auto query = query0.clone().requires_grad_(), keys_values = keys_values0.clone().requires_grad_();
    auto out = kernels::multi_head_attention(query, keys_values, h, mask, 0.0, true);
    (out * upstream).sum().backward();
    return Run{out.detach(), query.grad(), keys_values.grad()};
  };
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
  for (const bool causal : {false, true}) {
    mask.causal_offset = causal ? torch::tensor({2, 0, 9}, torch::kLong) : at::Tensor();
    const auto fused = run(kernels::AttentionKernel::fused), materialised = run(kernels::AttentionKernel::materialised);
    agree(fused, materialised, causal ? "causal: fused vs materialised" : "fused vs materialised");
    if (!kernels::sdpa_available()) continue;
    const auto sdpa = run(kernels::AttentionKernel::sdpa);
    agree(sdpa, fused, causal ? "causal: sdpa vs fused" : "sdpa vs fused");
    agree(sdpa, materialised, causal ? "causal: sdpa vs materialised" : "sdpa vs materialised");
  }
  if (kernels::sdpa_available()) {
    // Unforced, CPU floats take the fused kernel, other tensors SDPA.
    kernels::set_attention(std::nullopt);
    BOOST_TEST((kernels::attention_for(query0) == kernels::AttentionKernel::fused));
    BOOST_TEST((kernels::attention_for(query0.to(torch::kDouble)) == kernels::AttentionKernel::sdpa));
  } else {
    expect_error([&] { run(kernels::AttentionKernel::sdpa); }, {"needs LibTorch 2.x"});
  }
  // The fused kernel cannot take doubles: a clear error, not a silent fallback.
  kernels::set_attention(kernels::AttentionKernel::fused);
  expect_error([&] { kernels::attention_for(query0.to(torch::kDouble)); }, {"attention 'fused' runs on CPU float"});
}

// The released code's causal mask (modules/transformer.py, buffered_future_mask):
// query i attends key j only when j <= i + |Tk - Tq|. The expected values are
// computed here in double, one query at a time, from that formula alone; the
// fused kernel, the materialised scores and SDPA (LibTorch 2.x) must give
// them, outputs and gradients, with queries shorter and longer than the keys,
// with padding and per-sequence offsets, with and without dropout's seeds off.
BOOST_AUTO_TEST_CASE(causal_attention_follows_the_released_mask_formula) {
  KernelsGuard guard;
  kernels::set_mode(kernels::Mode::fast);
  AttentionGuard attention_guard;
  torch::manual_seed(31);
  struct Case {
    std::int64_t t, s, d;  // queries, keys, head size
    bool self, padded;
  };
  for (const auto [t, s, d, self, padded] :
       {Case{7, 19, 5, false, false}, Case{29, 11, 13, false, false}, Case{21, 37, 13, false, true},
        Case{40, 23, 4, false, true}, Case{19, 19, 13, true, false}, Case{33, 33, 7, true, true}}) {
    const std::int64_t b = 3, h = 2, width = h * d;
    // Real lengths per sequence: all of them, or shorter ones (the offset then
    // comes from the real lengths, as the models pass it with padding masks).
    std::vector<std::int64_t> q_len(b, t), k_len(b, s);
    if (padded) q_len = {t, t - 5, 3}, k_len = self ? q_len : std::vector<std::int64_t>{s - 2, s, 4};
    auto padding = torch::zeros({b, s}, torch::kBool);
    auto offsets = torch::zeros({b}, torch::kLong);
    for (std::int64_t i = 0; i < b; ++i) {
      padding[i].slice(0, k_len[i]).fill_(true);
      offsets[i] = std::abs(k_len[i] - q_len[i]);
    }
    const kernels::AttentionMask mask(padded ? padding : at::Tensor(), offsets);
    const auto query0 = torch::randn({b, t, self ? 3 * width : width});
    const auto keys_values0 = self ? at::Tensor() : torch::randn({b, s, 2 * width});
    const auto upstream = torch::randn({b, t, width});

    // The expected output, in double: per sequence, head and query, a softmax
    // over the keys the formula allows.
    const auto qd = query0.to(torch::kDouble).requires_grad_();
    const auto kvd = self ? at::Tensor() : keys_values0.to(torch::kDouble).requires_grad_();
    std::vector<at::Tensor> rows;
    for (std::int64_t i = 0; i < b; ++i)
      for (std::int64_t tq = 0; tq < t; ++tq) {
        std::vector<at::Tensor> heads;
        for (std::int64_t hd = 0; hd < h; ++hd) {
          const auto& kv = self ? qd : kvd;
          const std::int64_t k_at = (self ? width : 0) + hd * d, v_at = k_at + width;
          const auto q = qd[i][tq].narrow(0, hd * d, d) / std::sqrt(static_cast<double>(d));
          std::vector<std::int64_t> allowed;
          for (std::int64_t j = 0; j < k_len[i]; ++j)
            if (j <= tq + std::abs(k_len[i] - q_len[i])) allowed.push_back(j);
          const auto index = torch::tensor(allowed, torch::kLong);
          const auto keys = kv[i].index_select(0, index);
          const auto weights = torch::softmax(keys.narrow(1, k_at, d).matmul(q), 0);
          heads.push_back(weights.matmul(keys.narrow(1, v_at, d)));
        }
        rows.push_back(torch::cat(heads));
      }
    // Query rows past a sequence's real length are not compared (no model
    // reads them): their output is left out of the loss here and below.
    auto real = torch::zeros({b, t, 1}, torch::kBool);
    for (std::int64_t i = 0; i < b; ++i) real[i].slice(0, 0, q_len[i]).fill_(true);
    const auto upstream_real = upstream * real;
    const auto expected = torch::stack(rows).view({b, t, width});
    (expected * upstream_real.to(torch::kDouble)).sum().backward();

    const auto where = fmt::format("t={} s={} d={} self={} padded={}", t, s, d, self, padded);
    std::vector<kernels::AttentionKernel> paths{kernels::AttentionKernel::fused, kernels::AttentionKernel::materialised};
    if (kernels::sdpa_available()) paths.push_back(kernels::AttentionKernel::sdpa);
    for (const auto how : paths) {
      kernels::set_attention(how);
      auto query = query0.clone().requires_grad_();
      auto keys_values = self ? at::Tensor() : keys_values0.clone().requires_grad_();
      const auto out = kernels::multi_head_attention(query, keys_values, h, mask, 0.0, true);
      (out * upstream_real).sum().backward();
      const auto path = fmt::format("{} path {}", where, static_cast<int>(how));
      const auto out_gap = ((out.to(torch::kDouble) - expected) * real).abs().max().item<double>();
      BOOST_TEST(out_gap < 1e-5, path << ": output differs by " << out_gap);
      const auto grad_gap = [&](const at::Tensor& got, const at::Tensor& want) {
        return (got.to(torch::kDouble) - want).abs().max().item<double>();
      };
      BOOST_TEST(grad_gap(query.grad(), qd.grad()) < 1e-4, path << ": query gradient");
      if (!self) BOOST_TEST(grad_gap(keys_values.grad(), kvd.grad()) < 1e-4, path << ": keys_values gradient");
    }
  }
}

// The fused kernel's causal mask holds with dropout on: keys that no query
// of a sequence sees never change its output; a key its last query sees does.
BOOST_AUTO_TEST_CASE(a_causally_hidden_key_never_counts_with_dropout_on) {
  torch::manual_seed(32);
  const std::int64_t b = 2, t = 27, s = 45, h = 2, width = 26;
  const kernels::AttentionMask mask({}, torch::tensor({10, 0}, torch::kLong));
  const auto query = torch::randn({b, t, width}), keys_values = torch::randn({b, s, 2 * width});
  const auto attend = [&](const at::Tensor& kv) {
    return kernels::multi_head_attention_with_seed(query, kv, h, mask, 0.5, true, 99).detach();
  };
  const auto before = attend(keys_values);
  auto hidden = keys_values.clone(), seen = keys_values.clone();
  hidden[0].slice(0, t + 10).normal_();  // query t-1 sees keys up to t-1+10
  seen[0][t + 9].normal_();
  BOOST_TEST(attend(hidden)[0].equal(before[0]));
  BOOST_TEST(!attend(seen)[0][t - 1].equal(before[0][t - 1]));
}

BOOST_AUTO_TEST_CASE(fused_attention_of_a_sequence_without_keys_is_zero) {
  torch::manual_seed(12);
  auto query = torch::randn({2, 5, 8}, torch::requires_grad()),
       keys_values = torch::randn({2, 6, 16}, torch::requires_grad());
  auto key_padding = torch::zeros({2, 6}, torch::kBool);
  key_padding[0].fill_(true);
  const auto out = kernels::multi_head_attention_with_seed(query, keys_values, 2, key_padding, 0.1, true, 7);
  out.sum().backward();
  BOOST_TEST(out[0].abs().max().item<float>() == 0.0f);
  BOOST_TEST(out[1].abs().min().item<float>() > 0.0f);
  for (const auto* x : {&query, &keys_values}) {
    BOOST_TEST(x->grad()[0].abs().max().item<float>() == 0.0f);
    BOOST_TEST(std::isfinite(x->grad().sum().item<float>()));
  }
}
