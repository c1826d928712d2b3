/**
 * A workflow's parameters as a short form: one field per parameter, its kind
 * choosing the input (text, path, number, date, choice), its default filled in.
 */
import { Dialog, showDialog } from '@jupyterlab/apputils';
import { Widget } from '@lumino/widgets';

import { IParameter, IWorkflow } from './api';

type Values = Record<string, unknown>;

function shown(value: unknown): string {
  return value === null || value === undefined ? '' : String(value);
}

/** The form: a field per parameter, and the server's (or the form's) last complaint. */
export class ParameterForm extends Widget implements Dialog.IBodyWidget<Values> {
  private readonly fields = new Map<string, HTMLInputElement | HTMLSelectElement>();

  constructor(
    private readonly workflow: IWorkflow,
    values: Values | undefined,
    problem: string | undefined
  ) {
    super({ node: document.createElement('form') });
    this.addClass('nx-Form');
    this.node.setAttribute('aria-label', `${workflow.title || workflow.name} parameters`);
    // Enter submits the dialog, not the page
    this.node.addEventListener('submit', event => event.preventDefault());
    if (workflow.description) {
      const about = document.createElement('p');
      about.className = 'nx-Form-about';
      about.textContent = workflow.description;
      this.node.append(about);
    }
    if (problem) {
      const alert = document.createElement('div');
      alert.className = 'nx-Error';
      alert.setAttribute('role', 'alert');
      alert.textContent = problem;
      this.node.append(alert);
    }
    for (const parameter of workflow.parameters) {
      this.node.append(this.field(parameter, values?.[parameter.name] ?? parameter.default));
    }
    if (!workflow.parameters.length) {
      const none = document.createElement('p');
      none.className = 'nx-muted';
      none.textContent = 'This workflow takes no parameters.';
      this.node.append(none);
    }
  }

  private field(parameter: IParameter, value: unknown): HTMLElement {
    const label = document.createElement('label');
    label.className = 'nx-Form-field';
    const caption = document.createElement('span');
    caption.className = 'nx-Form-label';
    caption.textContent = parameter.label || parameter.name;
    label.append(caption);
    let input: HTMLInputElement | HTMLSelectElement;
    if (parameter.kind === 'choice') {
      const select = document.createElement('select');
      (parameter.choices ?? []).forEach((choice, index) => {
        const option = document.createElement('option');
        option.value = String(index);
        option.textContent = shown(choice);
        option.selected = shown(choice) === shown(value);
        select.append(option);
      });
      input = select;
    } else {
      const box = document.createElement('input');
      box.type = parameter.kind === 'number' ? 'number' : parameter.kind === 'date' ? 'date' : 'text';
      if (parameter.kind === 'number') {
        box.step = 'any';
      }
      if (parameter.kind === 'path') {
        box.placeholder = 'a path relative to the server\u2019s root';
        box.spellcheck = false;
      }
      box.value = parameter.kind === 'date' ? shown(value).slice(0, 10) : shown(value);
      input = box;
    }
    input.name = parameter.name;
    input.className = 'jp-mod-styled nx-Form-input';
    input.dataset.kind = parameter.kind;
    this.fields.set(parameter.name, input);
    label.append(input);
    return label;
  }

  /** The values as the API takes them: numbers as numbers, blanks as null. */
  getValue(): Values {
    const values: Values = {};
    for (const parameter of this.workflow.parameters) {
      const input = this.fields.get(parameter.name)!;
      const raw = input.value.trim();
      if (parameter.kind === 'choice') {
        const choices = parameter.choices ?? [];
        values[parameter.name] = raw === '' ? null : choices[Number(raw)] ?? null;
      } else if (parameter.kind === 'number') {
        values[parameter.name] = raw === '' ? null : Number(raw);
      } else {
        values[parameter.name] = raw === '' ? null : raw;
      }
    }
    return values;
  }

  protected onAfterAttach(): void {
    this.fields.values().next().value?.focus();
  }
}

/**
 * Ask for a workflow's parameters; `undefined` when the user cancels. `problem`,
 * when given, is shown above the fields (the server's refusal of the last values).
 */
export async function askParameters(
  workflow: IWorkflow,
  values?: Values,
  problem?: string
): Promise<Values | undefined> {
  const result = await showDialog({
    title: `New notebook: ${workflow.title || workflow.name}`,
    body: new ParameterForm(workflow, values, problem),
    buttons: [Dialog.cancelButton(), Dialog.okButton({ label: 'Create' })],
    focusNodeSelector: 'input, select'
  });
  return result.button.accept ? result.value ?? {} : undefined;
}
