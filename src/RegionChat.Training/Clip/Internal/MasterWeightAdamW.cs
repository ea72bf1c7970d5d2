using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace RegionChat.Training.Clip.Internal;

/// <summary>One trainable tensor: its checkpoint name, learning-rate multiplier and weight decay.</summary>
internal sealed record TrainableParameter(string Name, Parameter Parameter, double LrMultiplier, double WeightDecay);

/// <summary>
/// AdamW (decoupled weight decay, bias-corrected moments) with per-parameter learning-rate multipliers, i.e. AdamW
/// parameter groups. Written out rather than taken from TorchSharp so that its whole state (moments, step count and the
/// float32 master weights) is plain named tensors a checkpoint can store and restore bit for bit.
/// When the model computes in bfloat16/float16 the update runs on float32 master copies and is copied back, so small
/// updates are not rounded away (mixed precision without autocast, which TorchSharp 0.107 lacks).
/// </summary>
internal sealed class MasterWeightAdamW : IDisposable
{
    sealed class Slot(TrainableParameter p, Tensor master, Tensor m, Tensor v)
    {
        public TrainableParameter P { get; } = p;
        public Tensor Master { get; } = master;
        public Tensor M { get; } = m;
        public Tensor V { get; } = v;
        public bool OwnsMaster => !ReferenceEquals(Master, P.Parameter);
    }

    readonly List<Slot> slots = [];
    readonly double beta1, beta2, eps;

    public MasterWeightAdamW(IEnumerable<TrainableParameter> parameters, double beta1 = 0.9, double beta2 = 0.98, double eps = 1e-6)
    {
        this.beta1 = beta1;
        this.beta2 = beta2;
        this.eps = eps;
        using var _ = no_grad();
        foreach (var p in parameters)
        {
            if (slots.Any(s => s.P.Name == p.Name)) throw new ArgumentException($"parameter '{p.Name}' given twice");
            Tensor master = p.Parameter.dtype == ScalarType.Float32 ? p.Parameter : p.Parameter.detach().to(ScalarType.Float32).contiguous();
            slots.Add(new Slot(p, master, zeros_like(master), zeros_like(master)));
        }
    }

    /// <summary>Updates taken so far (the bias correction's t).</summary>
    public long StepCount { get; private set; }

    public IEnumerable<TrainableParameter> Parameters => slots.Select(s => s.P);

    /// <summary>One AdamW update at base learning rate <paramref name="lr"/> (times each parameter's multiplier).</summary>
    public void Step(double lr)
    {
        StepCount++;
        double correction1 = 1 - Math.Pow(beta1, StepCount), correction2 = 1 - Math.Pow(beta2, StepCount);
        using var _ = no_grad();
        foreach (var s in slots)
        {
            var grad = s.P.Parameter.grad;
            if (grad is null) continue;   // not reached by this batch's graph
            using var scope = NewDisposeScope();
            var g = grad.dtype == ScalarType.Float32 ? grad : grad.to(ScalarType.Float32);
            double rate = lr * s.P.LrMultiplier;
            // Every Scalar alive past its native call (RegionChat.Vision.RootedScalars says why).
            using TorchSharp.Scalar decay = 1 - rate * s.P.WeightDecay, b1 = beta1, b2 = beta2, rest1 = 1 - beta1, rest2 = 1 - beta2;
            using TorchSharp.Scalar c2 = correction2, epsilon = eps, step = -rate / correction1;
            if (s.P.WeightDecay > 0) s.Master.mul_(decay);
            s.M.mul_(b1).add_(g, alpha: rest1);
            s.V.mul_(b2).addcmul_(g, g, value: rest2);
            var denominator = s.V.div(c2).sqrt_().add_(epsilon, RegionChat.Vision.RootedScalars.One);
            s.Master.addcdiv_(s.M, denominator, value: step);
            if (s.OwnsMaster) s.P.Parameter.copy_(s.Master);
        }
    }

    public void ZeroGrad()
    {
        foreach (var s in slots)
        {
            var g = s.P.Parameter.grad;
            if (g is not null)
            {
                g.Dispose();
                s.P.Parameter.grad = null;
            }
        }
    }

    /// <summary>The float32 master weight of each parameter (the parameter itself when the model is float32).</summary>
    public IEnumerable<KeyValuePair<string, Tensor>> MasterWeights() => slots.Select(s => KeyValuePair.Create(s.P.Name, s.Master));

    /// <summary>One training step: zeroes the gradients, backpropagates <paramref name="computeLoss"/>'s loss, updates at
    /// <paramref name="lr"/>, runs <paramref name="afterUpdate"/>, and returns the loss and accuracy as numbers (the step's
    /// tensors are freed and the gradients zeroed again before it returns).</summary>
    public (double Loss, double Accuracy) TrainStep(Func<(Tensor Loss, Tensor Accuracy)> computeLoss, double lr, Action? afterUpdate = null)
    {
        double loss, accuracy;
        using (var scope = NewDisposeScope())
        {
            ZeroGrad();
            var (lossTensor, accuracyTensor) = computeLoss();
            lossTensor.backward();
            Step(lr);
            afterUpdate?.Invoke();
            loss = lossTensor.ToDouble();
            accuracy = accuracyTensor.ToDouble();
        }
        ZeroGrad();
        return (loss, accuracy);
    }

    /// <summary>A module's state dict with its trained tensors (named <paramref name="prefix"/> + key here) replaced by
    /// their float32 master weights.</summary>
    public Dictionary<string, Tensor> WithMasterWeights(Dictionary<string, Tensor> stateDict, string prefix)
    {
        var masters = MasterWeights().ToDictionary(kv => kv.Key, kv => kv.Value);
        return stateDict.ToDictionary(kv => kv.Key, kv => masters.TryGetValue(prefix + kv.Key, out var m) ? m : kv.Value);
    }

    /// <summary>Moments as "adam.m.NAME" / "adam.v.NAME".</summary>
    public IEnumerable<KeyValuePair<string, Tensor>> Moments() =>
        slots.SelectMany(s => new[] { KeyValuePair.Create("adam.m." + s.P.Name, s.M), KeyValuePair.Create("adam.v." + s.P.Name, s.V) });

    /// <summary>Restores master weights (copied into the parameters too), moments and the step count.</summary>
    public void Restore(IReadOnlyDictionary<string, Tensor> masters, IReadOnlyDictionary<string, Tensor> state, long stepCount)
    {
        using var _ = no_grad();
        foreach (var s in slots)
        {
            Copy(s.Master, masters, s.P.Name);
            Copy(s.M, state, "adam.m." + s.P.Name);
            Copy(s.V, state, "adam.v." + s.P.Name);
            if (s.OwnsMaster) s.P.Parameter.copy_(s.Master);
        }
        StepCount = stepCount;

        static void Copy(Tensor target, IReadOnlyDictionary<string, Tensor> source, string name)
        {
            if (!source.TryGetValue(name, out var t)) throw new InvalidDataException($"checkpoint lacks '{name}'");
            if (!t.shape.SequenceEqual(target.shape))
                throw new InvalidDataException($"checkpoint tensor '{name}' has shape [{string.Join(", ", t.shape)}], the model needs " +
                    $"[{string.Join(", ", target.shape)}]");
            target.copy_(t);
        }
    }

    public void Dispose()
    {
        foreach (var s in slots)
        {
            s.M.Dispose();
            s.V.Dispose();
            if (s.OwnsMaster) s.Master.Dispose();
        }
        slots.Clear();
    }
}
