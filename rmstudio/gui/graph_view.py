"""A read-only drawing of the pipeline: nodes in columns by topological layer, edges as arrows.

The layout comes from ``core.manifest.edit.layout_layers`` (sources on the left). Nodes
with validation errors are drawn in red; the selected node is outlined in blue; clicking
a node selects it in the node list. The view is never edited directly - it redraws from
the document model whenever the text changes (and shows the last good drawing, faded,
while the text is not valid JSON).
"""

from __future__ import annotations

import math

from PySide6.QtCore import QPointF, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QBrush, QColor, QFont, QPainter, QPainterPath, QPen, QPolygonF
from PySide6.QtWidgets import (
    QGraphicsItem,
    QGraphicsPathItem,
    QGraphicsScene,
    QGraphicsSimpleTextItem,
    QGraphicsView,
    QWidget,
)

from rmstudio.core.manifest import catalog, edit
from rmstudio.gui.document import DocumentModel

NODE_W = 150.0
NODE_H = 50.0
COL_GAP = 70.0
ROW_GAP = 26.0
BAND_GAP = 46.0
MIN_SCALE = 0.7  # below this the labels are unreadable: long pipelines wrap into bands instead

FILL = QColor("#eef3fa")
BORDER = QColor("#5f7fa8")
FILL_BAD = QColor("#fdecea")
BORDER_BAD = QColor("#c62828")
SELECTED = QColor("#1565c0")
EDGE = QColor("#5b6470")


class NodeItem(QGraphicsPathItem):
    def __init__(self, node_id: str, node_type: str | None, invalid: list[str] | None) -> None:
        super().__init__()
        self.node_id = node_id
        self.invalid = bool(invalid)
        path = QPainterPath()
        path.addRoundedRect(QRectF(0, 0, NODE_W, NODE_H), 8, 8)
        self.setPath(path)
        self.setBrush(QBrush(FILL_BAD if invalid else FILL))
        self.set_selected(False)
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIsSelectable, False)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        spec = catalog.find_node(node_type) if node_type else None
        tip = f"{node_id} ({node_type or 'no type'})"
        if spec:
            tip += f"\n{spec.description}\ninput: {spec.input} → output: {spec.output}"
        if invalid:
            tip += "\n\n" + "\n".join(invalid)
        self.setToolTip(tip)
        title = QGraphicsSimpleTextItem(_elide(node_id, 20), self)
        font = QFont()
        font.setBold(True)
        title.setFont(font)
        title.setBrush(QBrush(QColor("#1c1c1c")))
        subtitle = QGraphicsSimpleTextItem(_elide(node_type or "?", 24), self)
        small = QFont()
        small.setPointSizeF(max(6.0, small.pointSizeF() * 0.85))
        subtitle.setFont(small)
        subtitle.setBrush(QBrush(QColor("#b71c1c" if invalid else "#555555")))
        for item, y in ((title, 8.0), (subtitle, 28.0)):
            w = item.boundingRect().width()
            item.setPos((NODE_W - w) / 2, y)

    def set_selected(self, on: bool) -> None:
        color = SELECTED if on else BORDER_BAD if self.invalid else BORDER
        self.setPen(QPen(color, 2.6 if on else 1.4))

    def mousePressEvent(self, event) -> None:
        scene = self.scene()
        if isinstance(scene, _Scene):
            scene.node_clicked.emit(self.node_id)
        event.accept()


class _Scene(QGraphicsScene):
    node_clicked = Signal(str)


def _elide(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


class GraphView(QGraphicsView):
    node_clicked = Signal(str)

    def __init__(self, model: DocumentModel, parent: QWidget | None = None) -> None:
        self._scene = _Scene()
        super().__init__(self._scene, parent)
        self.model = model
        self.selected: str | None = None
        self.items_by_id: dict[str, NodeItem] = {}
        self._columns = 0
        self._shown: tuple | None = None
        self.setRenderHint(QPainter.RenderHint.Antialiasing)
        self.setRenderHint(QPainter.RenderHint.TextAntialiasing)
        self.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
        self.setBackgroundBrush(QBrush(QColor("#fbfbfc")))
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self._scene.node_clicked.connect(self.node_clicked)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(0)
        self._timer.timeout.connect(self.rebuild)
        model.parsed_changed.connect(self._timer.start)
        model.validation_changed.connect(self._timer.start)
        self.rebuild()

    def select(self, node_id: str | None) -> None:
        self.selected = node_id or None
        for nid, item in self.items_by_id.items():
            item.set_selected(nid == self.selected)

    def rebuild(self) -> None:
        self._timer.stop()
        manifest = self.model.manifest
        if manifest is None:
            self.setEnabled(bool(self.items_by_id))
            for item in self._scene.items():
                item.setOpacity(0.35)
            self._shown = None  # drawn again (opaque) when the text parses
            return
        self.setEnabled(True)
        columns = self._columns_that_fit()
        shown = (edit.structure_key(manifest), repr(self.model.invalid_nodes), columns)
        if shown == self._shown and self.items_by_id:
            return  # a param edit: the same drawing
        self._shown = shown
        self._scene.clear()
        self.items_by_id = {}
        layout = edit.layout_layers(manifest)
        if not layout.nodes:
            text = self._scene.addSimpleText("No nodes yet: add one with Add in the Pipeline panel.")
            text.setBrush(QBrush(QColor("#8a8a8a")))
            self._fit()
            return
        invalid = self.model.invalid_nodes
        rows_in: dict[int, int] = {}
        for placed in layout.nodes:
            rows_in[placed.layer] = rows_in.get(placed.layer, 0) + 1
        total_h = layout.max_rows * NODE_H + (layout.max_rows - 1) * ROW_GAP
        self._columns = columns
        for placed in layout.nodes:
            item = NodeItem(placed.node_id, placed.node_type, invalid.get(placed.node_id))
            col_h = rows_in[placed.layer] * NODE_H + (rows_in[placed.layer] - 1) * ROW_GAP
            band, col = divmod(placed.layer, columns)
            x = col * (NODE_W + COL_GAP)
            y = band * (total_h + BAND_GAP) + (total_h - col_h) / 2 + placed.row * (NODE_H + ROW_GAP)
            item.setPos(x, y)
            item.setZValue(1)
            self._scene.addItem(item)
            self.items_by_id[placed.node_id] = item
        for src, dst in layout.edges:
            self._add_edge(self.items_by_id[src], self.items_by_id[dst])
        self.select(self.selected)
        self._fit()

    def _add_edge(self, a: NodeItem, b: NodeItem) -> None:
        ra = a.sceneBoundingRect()
        rb = b.sceneBoundingRect()
        if rb.left() > ra.right():  # the usual case: left to right
            start = QPointF(ra.right(), ra.center().y())
            end = QPointF(rb.left(), rb.center().y())
            dx = (end.x() - start.x()) * 0.5
            c1, c2 = QPointF(start.x() + dx, start.y()), QPointF(end.x() - dx, end.y())
        elif rb.top() > ra.bottom():  # into the next band of a wrapped pipeline
            start = QPointF(ra.right(), ra.center().y())
            end = QPointF(rb.left(), rb.center().y())
            c1, c2 = QPointF(start.x() + 70, start.y() + 60), QPointF(end.x() - 70, end.y() - 60)
        else:  # same column or backwards (a cycle): loop around below
            start = QPointF(ra.center().x(), ra.bottom())
            end = QPointF(rb.center().x(), rb.bottom())
            drop = max(ra.bottom(), rb.bottom()) + 40
            c1, c2 = QPointF(start.x(), drop), QPointF(end.x(), drop)
        path = QPainterPath(start)
        path.cubicTo(c1, c2, end)
        line = QGraphicsPathItem(path)
        line.setPen(QPen(EDGE, 1.6))
        line.setZValue(0)
        self._scene.addItem(line)
        angle = math.atan2(end.y() - c2.y(), end.x() - c2.x())
        size = 9.0
        head = QPolygonF(
            [
                end,
                QPointF(end.x() - size * math.cos(angle - 0.4), end.y() - size * math.sin(angle - 0.4)),
                QPointF(end.x() - size * math.cos(angle + 0.4), end.y() - size * math.sin(angle + 0.4)),
            ]
        )
        arrow = self._scene.addPolygon(head, QPen(EDGE, 1.0), QBrush(EDGE))
        arrow.setZValue(2)

    def _columns_that_fit(self) -> int:
        # Room for the scroll bar and the scene margins, at the smallest readable scale.
        width = max(200, self.viewport().width() - 20)
        return max(2, int((width / MIN_SCALE - 40 + COL_GAP) // (NODE_W + COL_GAP)))

    def _fit(self) -> None:
        rect = self._scene.itemsBoundingRect().adjusted(-20, -20, 20, 20)
        self._scene.setSceneRect(rect)
        self.resetTransform()
        view = self.viewport().rect()
        if rect.width() > 0 and rect.height() > 0 and view.width() > 0:
            scale = min(view.width() / rect.width(), view.height() / rect.height(), 1.0)
            scale = max(scale, MIN_SCALE)  # too tall still: scroll rather than shrink to dots
            self.scale(scale, scale)
        if self.selected in self.items_by_id:
            self.ensureVisible(self.items_by_id[self.selected], 20, 20)
        else:
            self.ensureVisible(QRectF(rect.left(), rect.top(), 1, 1))

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if self.items_by_id and self._columns_that_fit() != self._columns:
            self._timer.start()  # the wrap width changed: lay out again
        self._fit()
