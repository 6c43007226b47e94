// The status lines (the page's and the Train panel's): a sentence for the visitor and, after it, smaller, a
// technical detail (an error's own message). The state goes in data-state, which the CSS and the tests read.

/** Shows `text` (and `detail`, if any) on the status line `line`, in state `state`. */
export function showStatus(line: HTMLElement, state: string, text: string, detail?: string): void {
  line.dataset.state = state;
  line.textContent = text;
  if (detail) {
    const small = document.createElement('small');
    small.className = 'detail';
    small.textContent = ` (${detail})`;
    line.append(small);
  }
}
