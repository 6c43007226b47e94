import { ShapeError, shapeStr } from '../engine/errors.js';
import { Tensor } from '../engine/tensor.js';
import { affine, axpby } from '../ops/elementwise.js';
import type { AnyOpDef, OpDef, OpInputs } from '../ops/op.js';

interface Node {
  op: AnyOpDef;
  attrs: unknown;
  inputs: OpInputs;
  inputShapes: (readonly number[] | null)[];
  output: Tensor;
  saved: OpInputs;
}

/**
 * The tape: ops run eagerly and, while gradients are on and an input wants one, append a node holding what
 * their backward needs. backward() walks the nodes in reverse, then clears the tape.
 */
class Tape {
  nodes: Node[] = [];
  /** Outputs of recorded nodes: tensors that are not leaves. */
  produced = new WeakSet<Tensor>();
  enabled = true;
}

/**
 * The library's one piece of module-global state, on purpose: ops record here without being handed a tape, so
 * that models read as plain calls (apply, noGrad and backward take no engine), as PyTorch's grad mode is
 * global. The price: one recording at a time per JavaScript realm. backward() runs and then clears every node
 * on the tape, whatever engine made it, so two computations must not record concurrently (e.g. two engines
 * training in one process with steps interleaved across awaits): one's backward would drop the other's nodes.
 */
const tape = new Tape();

/** Runs fn with gradient recording off (frozen nets, targets, inference). */
export function noGrad<T>(fn: () => T): T {
  const prev = tape.enabled;
  tape.enabled = false;
  try {
    const r = fn();
    if (r instanceof Promise) throw new Error('noGrad: fn must be synchronous');
    return r;
  } finally {
    tape.enabled = prev;
  }
}

export function isGradEnabled(): boolean {
  return tape.enabled;
}

/** Runs an op and, where needed, records it for backward. */
export function apply<A, I extends OpInputs, S extends OpInputs>(
  op: OpDef<A, I, S>,
  inputs: NoInfer<I>,
  attrs: NoInfer<A>,
): Tensor {
  if (inputs.length !== op.inputs.length) {
    throw new ShapeError(
      `${op.name}: expects ${op.inputs.length} inputs (${op.inputs.join(', ')}), got ${inputs.length}`,
    );
  }
  inputs.forEach((t, i) => {
    if (t === null && !op.optional?.includes(op.inputs[i]))
      throw new ShapeError(`${op.name}: input ${op.inputs[i]} is missing`);
    if (t?.isDisposed) throw new Error(`${op.name}: input ${op.inputs[i]} ${shapeStr(t.shape)} was disposed`);
  });
  const { output, saved } = op.forward(inputs, attrs);
  const record = tape.enabled && op.backward !== undefined && inputs.some((t) => t?.requiresGrad);
  const extras = saved.filter((t): t is Tensor => t !== null && t !== output && !inputs.includes(t));
  if (record) {
    for (const t of saved) t?.retain();
    tape.nodes.push({
      op,
      attrs,
      inputs: [...inputs],
      inputShapes: inputs.map((t) => (t ? t.shape : null)),
      output,
      saved,
    });
    output.requiresGrad = true;
    tape.produced.add(output);
  }
  // The tape holds its own reference to what it saved; the forward's reference to extras ends here.
  for (const t of extras) t.dispose();
  return output;
}

/** Drops every recorded node (e.g. after a forward pass whose gradients are not wanted). */
export function clearTape(): void {
  for (const node of tape.nodes) for (const t of node.saved) t?.release();
  tape.nodes = [];
}

/**
 * Back-propagates from `root` (a one-element loss, or any tensor with an explicit `gradRoot` of its shape)
 * through every recorded node, accumulating into `.grad` of leaves that require gradients. Clears the tape.
 * `gradRoot` stays the caller's.
 */
export function backward(root: Tensor, gradRoot?: Tensor): void {
  if (!gradRoot && root.size !== 1)
    throw new ShapeError(`backward: root ${shapeStr(root.shape)} is not a scalar; pass its gradient`);
  if (gradRoot && gradRoot.size !== root.size) {
    throw new ShapeError(`backward: gradient ${shapeStr(gradRoot.shape)} for root ${shapeStr(root.shape)}`);
  }
  // Each gradient tensor in `grads` is owned by the map and appears in it once.
  const grads = new Map<Tensor, Tensor>();
  const accumulate = (target: Tensor, g: Tensor): void => {
    if (g.size !== target.size)
      throw new ShapeError(`backward: gradient ${shapeStr(g.shape)} for tensor ${shapeStr(target.shape)}`);
    const prev = grads.get(target);
    if (!prev) {
      grads.set(target, g);
      return;
    }
    grads.set(target, axpby(prev, g, 1, 1));
    prev.dispose();
    g.dispose();
  };

  grads.set(root, gradRoot ? affine(gradRoot, 1, 0) : affine(Tensor.zeros(root.engine, root.shape), 0, 1));

  for (let n = tape.nodes.length - 1; n >= 0; n--) {
    const node = tape.nodes[n];
    const gOut = grads.get(node.output);
    if (gOut) {
      grads.delete(node.output);
      const needsGrad = node.inputs.map((t) => t?.requiresGrad === true);
      const gIns = node.op.backward!(
        { saved: node.saved, attrs: node.attrs, inputShapes: node.inputShapes, needsGrad },
        gOut,
      );
      // A gradient returned more than once (pass-through, or the same tensor for two inputs) is copied so
      // that each map entry owns its own tensor.
      const taken = new Set<Tensor>();
      node.inputs.forEach((t, i) => {
        const g = gIns[i];
        if (!g) return;
        if (!t || !needsGrad[i]) {
          if (g !== gOut && !taken.has(g) && !gIns.includes(g, i + 1)) g.dispose();
          return;
        }
        const mine = taken.has(g) ? affine(g, 1, 0) : g;
        taken.add(g);
        accumulate(t, mine);
      });
      if (!taken.has(gOut)) gOut.dispose();
    }
    for (const t of node.saved) t?.release();
  }
  tape.nodes = [];

  for (const [t, g] of grads) {
    if (tape.produced.has(t) || !t.requiresGrad) {
      g.dispose();
      continue;
    }
    // A leaf: its gradient outlives the current scope until zeroGrad / dispose.
    const engine = t.engine;
    if (t.grad) {
      const sum = engine.keep(axpby(t.grad, g, 1, 1));
      t.grad.dispose();
      g.dispose();
      t.grad = sum;
    } else {
      t.grad = engine.keep(g);
    }
  }
}

/** Disposes the gradients of the given leaves. */
export function zeroGrad(params: Iterable<Tensor>): void {
  for (const p of params) {
    p.grad?.dispose();
    p.grad = null;
  }
}
