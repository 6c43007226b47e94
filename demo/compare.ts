// The before/after compare: the stylised picture lies over the photo and shows right of a divider. The divider
// follows a range input (keyboard: arrow keys, Home, End) and a drag on the picture (mouse, pen or finger).

/** Wires `slider` (0..100) to the divider of `frame`: sets its CSS variable --split, which the CSS clips by. */
export function setupCompare(frame: HTMLElement, slider: HTMLInputElement): void {
  const show = () => frame.style.setProperty('--split', `${slider.value}%`);
  const follow = (e: PointerEvent) => {
    const box = frame.getBoundingClientRect();
    if (box.width <= 0) return;
    const at = Math.min(100, Math.max(0, ((e.clientX - box.left) / box.width) * 100));
    slider.value = String(Math.round(at));
    show();
  };
  let dragging = false;
  frame.addEventListener('pointerdown', (e) => {
    dragging = true;
    // Keeps the divider following when the pointer leaves the picture mid-drag.
    frame.setPointerCapture(e.pointerId);
    follow(e);
  });
  frame.addEventListener('pointermove', (e) => {
    if (dragging) follow(e);
  });
  const stop = () => {
    dragging = false;
  };
  frame.addEventListener('pointerup', stop);
  frame.addEventListener('pointercancel', stop);
  slider.addEventListener('input', show);
  show();
}
