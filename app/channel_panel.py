"""ChannelPanel: the channels of the recording grouped by modality.

Per channel: a visibility checkbox (first column), its modality (a combo box; changing it calls
``AppModel.set_modality``, which makes a new Recording through ``Recording.with_modalities``) and a mask
checkbox (whole-channel mask, undoable). A modality group's checkbox shows or hides all its channels. The
selected channels are those a drawn segment mask applies to; selecting a group selects its channels.
After an analysis, a channel's tooltip says how many windows the model did not see and why (user mask,
simulated, no data, detector found nothing), and which features could not be computed in visible windows.
"""

from __future__ import annotations

from PySide6.QtCore import QStringListModel, Qt, QTimer
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHeaderView,
    QStyleOptionViewItem,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from mmqnet_core.features.missing import NOT_DETECTED_TEXT, describe_hidden
from mmqnet_core.recording import Modality, Recording

from .model import AppModel
from .qt_compat import single_shot_timer

NAME, MODALITY, MASK = 0, 1, 2
_ROLE_CHANNEL = Qt.ItemDataRole.UserRole  # channel name on channel items, None on group items
_ROLE_TIP = Qt.ItemDataRole.UserRole + 1  # the channel's own tooltip, before analysis lines are added
#: Widest the name column grows to fit the longest channel name, in average character widths of the font;
#: longer names are elided (the tooltip gives the full name).
NAME_LIMIT_CHARS = 28


class ChannelPanel(QWidget):
    """Tree of channels by modality with visibility, modality and mask per channel."""

    def __init__(self, model: AppModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self.tree = QTreeWidget(self)
        self.tree.setColumnCount(3)
        self.tree.setHeaderLabels(["Channel", "Modality", "Mask"])
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.tree.setUniformRowHeights(True)
        header = self.tree.header()
        # Sized to the longest name by _fit_name_column (a stretched column was squeezed by the modality
        # combo boxes in the narrow dock: "hE...", "Respi..."); the user may still drag it.
        header.setSectionResizeMode(NAME, QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(MODALITY, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(MASK, QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.tree)

        self._items: dict[str, QTreeWidgetItem] = {}
        self._updating = False
        # One list of modalities shared by every channel's combo box (each keeps its own current row): filling
        # 40 combo boxes with their own items was a third of the panel's rebuild, before the first page is shown.
        self._modalities = QStringListModel([m.value for m in Modality], self)
        # A group checkbox changes all its children, one itemChanged each: gather them into one model update.
        self._visibility_timer = single_shot_timer(self, 0)
        self._visibility_timer.timeout.connect(self._push_visibility)
        self._mask_timer = single_shot_timer(self, 0)  # same for a group's mask checkbox
        self._mask_timer.timeout.connect(self._push_masks)
        self.tree.itemChanged.connect(self._on_item_changed)
        self.tree.itemSelectionChanged.connect(self._on_selection)
        model.recordingLoaded.connect(self._rebuild)
        model.recordingChanged.connect(self._rebuild)
        model.masksChanged.connect(lambda _m: self._sync_states())
        model.visibilityChanged.connect(lambda _h: self._sync_states())
        model.analysisFinished.connect(self.show_missing)

    def item(self, ch_name: str) -> QTreeWidgetItem:
        """The tree item of channel ``ch_name``."""
        return self._items[ch_name]

    def group(self, modality: Modality | str) -> QTreeWidgetItem | None:
        """The group item of a modality, ``None`` if no channel has it."""
        label = Modality.parse(modality).value
        for i in range(self.tree.topLevelItemCount()):
            top = self.tree.topLevelItem(i)
            if top.data(NAME, _ROLE_CHANNEL) is None and top.data(MODALITY, _ROLE_CHANNEL) == label:
                return top
        return None

    def combo(self, ch_name: str) -> QComboBox:
        return self.tree.itemWidget(self._items[ch_name], MODALITY)

    # --- building -------------------------------------------------------------------------------------------
    def _rebuild(self, recording: Recording) -> None:
        self._updating = True
        expanded = {self.tree.topLevelItem(i).data(MODALITY, _ROLE_CHANNEL)
                    for i in range(self.tree.topLevelItemCount()) if self.tree.topLevelItem(i).isExpanded()}
        # Built with the tree's signals blocked: each check state set would call _on_item_changed (ignored while
        # updating) -- ~200 Python calls for 40 channels.
        blocked = self.tree.blockSignals(True)
        try:
            self._build_items(recording, expanded)
        finally:
            self.tree.blockSignals(blocked)
            self._updating = False
        self._fit_name_column()

    def _build_items(self, recording: Recording, expanded: set) -> None:
        self.tree.clear()
        self._items = {}
        masks = self.model.masks
        masked = set(masks.channels) if masks is not None else set()
        hidden = self.model.hidden
        checked, unchecked = Qt.CheckState.Checked, Qt.CheckState.Unchecked
        groups: dict[Modality, QTreeWidgetItem] = {}
        order = [m for m in Modality if any(c.modality == m for c in recording.channels)]
        for m in order:
            n = sum(c.modality == m for c in recording.channels)
            top = QTreeWidgetItem(self.tree, [f"{m.value} ({n})"])
            top.setData(MODALITY, _ROLE_CHANNEL, m.value)
            top.setFlags(top.flags() | Qt.ItemFlag.ItemIsUserCheckable | Qt.ItemFlag.ItemIsAutoTristate)
            top.setToolTip(NAME, f"Show or hide all {m.value} channels")
            groups[m] = top
        for ch in recording.channels:
            item = QTreeWidgetItem(groups[ch.modality], [ch.name])
            item.setData(NAME, _ROLE_CHANNEL, ch.name)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(NAME, unchecked if ch.name in hidden else checked)
            item.setCheckState(MASK, checked if ch.name in masked else unchecked)
            unit = f", {ch.unit}" if ch.unit else ""
            item.setToolTip(NAME, f"{ch.name}: {ch.modality.value}, {ch.sfreq:g} Hz in the file{unit}")
            item.setData(NAME, _ROLE_TIP, item.toolTip(NAME))
            item.setToolTip(MASK, "Mask the whole channel (treated as missing by the analysis)")
            self._items[ch.name] = item
            combo = QComboBox(self.tree)
            combo.setModel(self._modalities)
            combo.setCurrentText(ch.modality.value)
            combo.setToolTip("Modality of this channel (inferred from its name; correct it here)")
            combo.currentTextChanged.connect(lambda text, name=ch.name: self._on_modality(name, text))
            self.tree.setItemWidget(item, MODALITY, combo)
        for m, top in groups.items():
            top.setExpanded(not expanded or m.value in expanded)

    def name_width_needed(self, item: QTreeWidgetItem) -> int:
        """Width (px) of the name column that shows ``item``'s text unelided: its indent plus the item delegate's
        own size hint (check box, text, margins), as Qt measures the cell it draws. (A sum of style metrics came
        out a pixel short of it, and a group's "EEG (1)" was drawn "EEG (...".)"""
        depth, parent = 0, item.parent()
        while parent is not None:
            depth, parent = depth + 1, parent.parent()
        indent = self.tree.indentation() * (depth + int(self.tree.rootIsDecorated()))
        index = self.tree.indexFromItem(item, NAME)
        option = QStyleOptionViewItem()
        self.tree.initViewItemOption(option)
        return indent + self.tree.itemDelegateForIndex(index).sizeHint(option, index).width()

    def name_width_limit(self) -> int:
        """Widest (px) the name column is made; beyond it names are elided and the tooltip shows them."""
        return self.tree.fontMetrics().averageCharWidth() * NAME_LIMIT_CHARS

    def _fit_name_column(self) -> None:
        """Widen the name column to the longest channel or group name (up to the limit), and the panel with it.

        Qt's ResizeToContents would fit the column too, but without a limit, and it re-measures every row on
        each change; one measurement per rebuild is enough here.
        """
        items = list(self._items.values()) + [self.tree.topLevelItem(i)
                                               for i in range(self.tree.topLevelItemCount())]
        if not items:
            return
        width = min(max(self.name_width_needed(it) for it in items), self.name_width_limit())
        header = self.tree.header()
        header.resizeSection(NAME, width)
        others = sum(max(header.sectionSize(c), self.tree.sizeHintForColumn(c)) for c in (MODALITY, MASK))
        scroll = self.tree.verticalScrollBar().sizeHint().width()
        self.tree.setMinimumWidth(width + others + scroll + 2 * self.tree.frameWidth())

    def _sync_states(self) -> None:
        """Show the model's visibility and masks in the check boxes."""
        self._updating = True
        masks = self.model.masks
        masked = set(masks.channels) if masks is not None else set()
        hidden = self.model.hidden
        for name, item in self._items.items():  # only the boxes that change (each set repaints its row)
            shown = Qt.CheckState.Unchecked if name in hidden else Qt.CheckState.Checked
            if item.checkState(NAME) != shown:
                item.setCheckState(NAME, shown)
            mask = Qt.CheckState.Checked if name in masked else Qt.CheckState.Unchecked
            if item.checkState(MASK) != mask:
                item.setCheckState(MASK, mask)
        self._updating = False

    def missing_text(self, result, ch_name: str) -> str:
        """Lines saying why the analysis hid the tokens fed by ``ch_name``, '' when none feeds on it."""
        lines = []
        reason, fvalid = result.reason, result.feature_valid
        for n, channel in enumerate(result.token_channels):
            if channel != ch_name:
                continue
            mod = result.token_modalities[n]
            name = result.token_names[n]
            if reason is not None:
                lines.append(describe_hidden(name, reason[:, n], mod))
            else:
                lines.append(f"{name}: {int(result.hidden[:, n].sum())}/{result.n_windows} windows hidden")
            if fvalid is not None:
                seen = ~result.hidden[:, n]
                cols = result.feature_names.get(mod, ())
                nan = [f"{c} in {k}" for f, c in enumerate(cols) if (k := int((seen & ~fvalid[:, n, f]).sum()))]
                if nan:
                    why = NOT_DETECTED_TEXT.get(mod, "not computable")
                    lines.append(f"  not computed in visible windows ({why}): " + ", ".join(nan))
        return "\n".join(lines)

    def show_missing(self, result) -> None:
        """Add the analysis' missing-data lines to each channel's tooltip (none when ``result`` is None)."""
        for name, item in self._items.items():
            base = item.data(NAME, _ROLE_TIP) or ""
            extra = self.missing_text(result, name) if result is not None else ""
            item.setToolTip(NAME, base + ("\n" + extra if extra else ""))

    # --- user actions ---------------------------------------------------------------------------------------
    def _on_item_changed(self, item: QTreeWidgetItem, column: int) -> None:
        if self._updating:
            return
        if column == NAME:
            self._visibility_timer.start()
        elif column == MASK:
            self._mask_timer.start()

    def _push_visibility(self) -> None:
        hidden = {n for n, it in self._items.items() if it.checkState(NAME) == Qt.CheckState.Unchecked}
        self.model.set_hidden(hidden)

    def _push_masks(self) -> None:
        """Make the model's whole-channel masks match the checkboxes, as one undo step."""
        masks = self.model.masks
        if masks is None:
            return
        checked = {n for n, it in self._items.items() if it.checkState(MASK) == Qt.CheckState.Checked}
        changed = sorted(checked ^ set(masks.channels))
        for name in changed:
            masks = masks.with_channel(name, name in checked)
        if changed:
            verb = "Mask" if changed[0] in checked else "Unmask"
            what = changed[0] if len(changed) == 1 else f"{len(changed)} channels"
            self.model.edit_masks(masks, f"{verb} {what}")

    def _on_modality(self, name: str, text: str) -> None:
        if not self._updating:
            # Deferred: the change rebuilds the tree, which deletes this combo box; not inside its own signal.
            QTimer.singleShot(0, lambda: self.model.set_modality(name, text))

    def _on_selection(self) -> None:
        names: list[str] = []
        for item in self.tree.selectedItems():
            name = item.data(NAME, _ROLE_CHANNEL)
            if name is None:
                names += [item.child(i).data(NAME, _ROLE_CHANNEL) for i in range(item.childCount())]
            else:
                names.append(name)
        self.model.set_selection(dict.fromkeys(names))
