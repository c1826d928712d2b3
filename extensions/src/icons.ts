import { LabIcon } from '@jupyterlab/ui-components';

import nexusSvg from '../style/icons/nexus.svg';

/** The NEXUS mark: the sidebar's tab, the launcher's cards and the commands. */
export const nexusIcon = new LabIcon({ name: 'nexus-lab:nexus', svgstr: nexusSvg });
