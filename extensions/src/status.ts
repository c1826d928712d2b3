/**
 * The status bar's NEXUS item: who acts (user and role) on which store.
 */
import { Widget } from '@lumino/widgets';

import { api, IWhoAmI } from './api';
import { storeLabel } from './format';
import { nexusIcon } from './icons';

/** "lead · admin · books.db"; the tooltip gives the full store, roles and tracking. */
export class WhoAmIStatus extends Widget {
  private readonly text: HTMLSpanElement;

  constructor(private readonly onClick: () => void) {
    super();
    this.addClass('nx-Status');
    this.node.setAttribute('role', 'button');
    this.node.tabIndex = 0;
    nexusIcon.element({ container: this.node.appendChild(document.createElement('span')), tag: 'span', elementSize: 'small' });
    this.text = this.node.appendChild(document.createElement('span'));
    this.text.className = 'nx-Status-text';
    this.text.textContent = 'NEXUS';
    this.node.addEventListener('click', () => this.onClick());
    this.node.addEventListener('keydown', event => {
      if (event.key === 'Enter' || event.key === ' ') {
        this.onClick();
      }
    });
    void this.reload();
  }

  /** Ask the server again who acts. */
  async reload(): Promise<void> {
    try {
      this.render(await api.whoami());
    } catch (error) {
      this.text.textContent = 'NEXUS: not connected';
      this.node.title = error instanceof Error ? error.message : String(error);
      this.node.dataset.state = 'error';
    }
  }

  private render(who: IWhoAmI): void {
    this.text.textContent = `${who.user} \u00b7 ${who.role} \u00b7 ${storeLabel(who.store)}`;
    this.node.title = [
      `NEXUS: ${who.display_name || who.user}`,
      `roles: ${who.roles.join(', ') || who.role}`,
      `store (${who.store_kind}): ${who.store}`,
      `tracking: ${who.tracking}`
    ].join('\n');
    this.node.dataset.state = 'ok';
  }
}
