package dynamostore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/greenroom-live/greenroom/shared/domain"
	"github.com/greenroom-live/greenroom/shared/store"
)

const (
	attrMembers   = "members"
	attrChatLimit = "chatLimit"
)

// groupItem is a group's own item; members counts its members.
type groupItem struct {
	PK        string    `dynamodbav:"PK"`
	SK        string    `dynamodbav:"SK"`
	ID        string    `dynamodbav:"id"`
	Name      string    `dynamodbav:"name"`
	OwnerID   string    `dynamodbav:"ownerId"`
	Members   int       `dynamodbav:"members"`
	CreatedAt time.Time `dynamodbav:"createdAt"`
}

func toGroupItem(g domain.Group) groupItem {
	k := groupKey(g.ID)
	return groupItem{PK: k.PK, SK: k.SK, ID: string(g.ID), Name: g.Name, OwnerID: string(g.OwnerID), Members: g.Members, CreatedAt: g.CreatedAt}
}

func (it groupItem) domain() domain.Group {
	return domain.Group{ID: domain.GroupID(it.ID), Name: it.Name, OwnerID: domain.UserID(it.OwnerID), Members: it.Members, CreatedAt: it.CreatedAt}
}

// groupMemberItem is one member of a group; chatLimit is its chat rate
// limiter in Unix nanoseconds (0: never used).
type groupMemberItem struct {
	PK        string    `dynamodbav:"PK"`
	SK        string    `dynamodbav:"SK"`
	GroupID   string    `dynamodbav:"groupId"`
	UserID    string    `dynamodbav:"userId"`
	Name      string    `dynamodbav:"name"`
	Role      string    `dynamodbav:"role"`
	JoinedAt  time.Time `dynamodbav:"joinedAt"`
	ChatLimit int64     `dynamodbav:"chatLimit"`
}

func toGroupMemberItem(m domain.GroupMember) groupMemberItem {
	k := groupMemberKey(m.GroupID, m.UserID)
	return groupMemberItem{PK: k.PK, SK: k.SK, GroupID: string(m.GroupID), UserID: string(m.UserID), Name: m.Name, Role: string(m.Role), JoinedAt: m.JoinedAt, ChatLimit: nanos(m.ChatLimit)}
}

func (it groupMemberItem) domain() domain.GroupMember {
	return domain.GroupMember{GroupID: domain.GroupID(it.GroupID), UserID: domain.UserID(it.UserID), Name: it.Name, Role: domain.GroupRole(it.Role), JoinedAt: it.JoinedAt, ChatLimit: fromNanos(it.ChatLimit)}
}

// userGroupItem files a group in its member's partition.
type userGroupItem struct {
	PK      string `dynamodbav:"PK"`
	SK      string `dynamodbav:"SK"`
	GroupID string `dynamodbav:"groupId"`
}

// groupChatItem is one message of a group's chat; ttl is At +
// store.ChatTTL in Unix seconds.
type groupChatItem struct {
	PK        string    `dynamodbav:"PK"`
	SK        string    `dynamodbav:"SK"`
	GroupID   string    `dynamodbav:"groupId"`
	ID        string    `dynamodbav:"id"`
	Kind      string    `dynamodbav:"kind"`
	UserID    string    `dynamodbav:"userId"`
	Name      string    `dynamodbav:"name"`
	Text      string    `dynamodbav:"text,omitempty"`
	SessionID string    `dynamodbav:"sessionId,omitempty"`
	At        time.Time `dynamodbav:"at"`
	TTL       int64     `dynamodbav:"ttl"`
}

func (d *DB) put(item any) (types.TransactWriteItem, error) {
	av, err := attributevalue.MarshalMap(item)
	if err != nil {
		return types.TransactWriteItem{}, fmt.Errorf("encode: %w", err)
	}
	return types.TransactWriteItem{Put: &types.Put{TableName: aws.String(d.table), Item: av}}, nil
}

// CreateGroup writes the group, its owner and the owner's index entry in
// one transaction, unless the group's id is taken.
func (d *DB) CreateGroup(ctx context.Context, g domain.Group, owner domain.GroupMember) error {
	g.Members = 1
	items := make([]types.TransactWriteItem, 3)
	var err error
	if items[0], err = d.putNew(toGroupItem(g)); err == nil {
		if items[1], err = d.put(toGroupMemberItem(owner)); err == nil {
			k := userGroupKey(owner.UserID, g.ID)
			items[2], err = d.put(userGroupItem{PK: k.PK, SK: k.SK, GroupID: string(g.ID)})
		}
	}
	if err != nil {
		return fmt.Errorf("dynamostore: create group %s: %w", g.ID, err)
	}
	if _, err := d.transact(ctx, items); errors.Is(err, errCanceled) {
		return fmt.Errorf("dynamostore: create group %s: %w", g.ID, store.ErrExists)
	} else if err != nil {
		return fmt.Errorf("dynamostore: create group %s: %w", g.ID, err)
	}
	return nil
}

// GetGroup returns a group, or store.ErrNotFound.
func (d *DB) GetGroup(ctx context.Context, id domain.GroupID) (domain.Group, error) {
	var it groupItem
	ok, err := d.get(ctx, groupKey(id), &it)
	if err != nil {
		return domain.Group{}, fmt.Errorf("dynamostore: get group %s: %w", id, err)
	}
	if !ok {
		return domain.Group{}, fmt.Errorf("dynamostore: get group %s: %w", id, store.ErrNotFound)
	}
	return it.domain(), nil
}

// The items of an AddGroupMember transaction.
const (
	gmItem = iota
	gmGroup
	gmIndex
)

// AddGroupMember writes the member unless it exists, grows the group's
// counter only below limit, and files the group in the member's
// partition, in one transaction.
func (d *DB) AddGroupMember(ctx context.Context, m domain.GroupMember, limit int) (domain.GroupMember, bool, error) {
	fail := func(err error) (domain.GroupMember, bool, error) {
		return domain.GroupMember{}, false, fmt.Errorf("dynamostore: add %s to group %s: %w", m.UserID, m.GroupID, err)
	}
	items := make([]types.TransactWriteItem, 3)
	var err error
	if items[gmItem], err = d.putNew(toGroupMemberItem(m)); err != nil {
		return fail(err)
	}
	items[gmGroup] = types.TransactWriteItem{Update: &types.Update{
		TableName:        aws.String(d.table),
		Key:              keyAV(groupKey(m.GroupID)),
		UpdateExpression: aws.String("SET #n = #n + :one"),
		// A group of no members is one its owner left alone: gone.
		ConditionExpression:      aws.String("attribute_exists(PK) AND #n > :zero AND #n < :lim"),
		ExpressionAttributeNames: map[string]string{"#n": attrMembers},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":one": num(1), ":lim": num(limit), ":zero": num(0),
		},
	}}
	k := userGroupKey(m.UserID, m.GroupID)
	if items[gmIndex], err = d.put(userGroupItem{PK: k.PK, SK: k.SK, GroupID: string(m.GroupID)}); err != nil {
		return fail(err)
	}
	reasons, err := d.transact(ctx, items)
	switch {
	case err == nil:
		return m, true, nil
	case !errors.Is(err, errCanceled):
		return fail(err)
	case failed(reasons, gmItem):
		got, err := d.GetGroupMember(ctx, m.GroupID, m.UserID)
		if err != nil {
			return fail(err)
		}
		return got, false, nil
	}
	g, err := d.GetGroup(ctx, m.GroupID)
	if err != nil {
		return fail(err)
	}
	if g.Members == 0 {
		return fail(store.ErrNotFound)
	}
	return fail(store.ErrGroupFull)
}

// RemoveGroupMember deletes the member's item and its index entry and
// takes one off the group's count in one transaction. The owner's
// removal holds only while the count is 1 (the owner alone), so a member
// joining at the same time makes it fail with ErrGroupOwner.
func (d *DB) RemoveGroupMember(ctx context.Context, group domain.GroupID, user domain.UserID) error {
	fail := func(err error) error {
		return fmt.Errorf("dynamostore: remove %s from group %s: %w", user, group, err)
	}
	g, err := d.GetGroup(ctx, group)
	if err != nil {
		return fail(err)
	}
	cond, vals := "attribute_exists(PK) AND #n > :zero", map[string]types.AttributeValue{":one": num(1), ":zero": num(0)}
	if user == g.OwnerID {
		cond = "attribute_exists(PK) AND #n = :one"
		delete(vals, ":zero")
	}
	items := make([]types.TransactWriteItem, 3)
	items[gmItem] = types.TransactWriteItem{Delete: &types.Delete{
		TableName:           aws.String(d.table),
		Key:                 keyAV(groupMemberKey(group, user)),
		ConditionExpression: aws.String("attribute_exists(PK)"),
	}}
	items[gmGroup] = types.TransactWriteItem{Update: &types.Update{
		TableName:                 aws.String(d.table),
		Key:                       keyAV(groupKey(group)),
		UpdateExpression:          aws.String("SET #n = #n - :one"),
		ConditionExpression:       aws.String(cond),
		ExpressionAttributeNames:  map[string]string{"#n": attrMembers},
		ExpressionAttributeValues: vals,
	}}
	items[gmIndex] = types.TransactWriteItem{Delete: &types.Delete{
		TableName: aws.String(d.table),
		Key:       keyAV(userGroupKey(user, group)),
	}}
	reasons, err := d.transact(ctx, items)
	switch {
	case err == nil:
		return nil
	case !errors.Is(err, errCanceled):
		return fail(err)
	case failed(reasons, gmItem):
		return fail(store.ErrNotFound)
	case failed(reasons, gmGroup) && user == g.OwnerID:
		return fail(store.ErrGroupOwner)
	}
	return fail(store.ErrNotFound)
}

// GetGroupMember returns a member of a group, or store.ErrNotFound.
func (d *DB) GetGroupMember(ctx context.Context, group domain.GroupID, user domain.UserID) (domain.GroupMember, error) {
	var it groupMemberItem
	ok, err := d.get(ctx, groupMemberKey(group, user), &it)
	if err != nil {
		return domain.GroupMember{}, fmt.Errorf("dynamostore: get member %s of group %s: %w", user, group, err)
	}
	if !ok {
		return domain.GroupMember{}, fmt.Errorf("dynamostore: get member %s of group %s: %w", user, group, store.ErrNotFound)
	}
	return it.domain(), nil
}

// ListGroupMembers is a consistent query of the group's members.
func (d *DB) ListGroupMembers(ctx context.Context, group domain.GroupID) ([]domain.GroupMember, error) {
	out := []domain.GroupMember{}
	err := d.queryPrefix(ctx, groupPK(group), prefixMember, true, func(item map[string]types.AttributeValue) error {
		var it groupMemberItem
		if ok, err := d.decode(item, &it); err != nil || !ok {
			return err
		}
		out = append(out, it.domain())
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("dynamostore: members of group %s: %w", group, err)
	}
	slices.SortFunc(out, func(a, b domain.GroupMember) int { return strings.Compare(string(a.UserID), string(b.UserID)) })
	return out, nil
}

// ListUserGroups queries the user's partition for its groups and reads
// them in one batch.
func (d *DB) ListUserGroups(ctx context.Context, user domain.UserID) ([]domain.Group, error) {
	var keys []key
	err := d.queryPrefix(ctx, prefixUser+string(user), prefixGroup, true, func(item map[string]types.AttributeValue) error {
		var it userGroupItem
		if ok, err := d.decode(item, &it); err != nil || !ok {
			return err
		}
		keys = append(keys, groupKey(domain.GroupID(it.GroupID)))
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("dynamostore: groups of %s: %w", user, err)
	}
	out := []domain.Group{}
	err = d.batchGet(ctx, keys, func(item map[string]types.AttributeValue) error {
		var it groupItem
		if ok, err := d.decode(item, &it); err != nil || !ok {
			return err
		}
		out = append(out, it.domain())
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("dynamostore: groups of %s: %w", user, err)
	}
	slices.SortFunc(out, func(a, b domain.Group) int { return strings.Compare(string(a.ID), string(b.ID)) })
	return out, nil
}

// AddGroupChat keeps a message in its group's partition with ttl At +
// store.ChatTTL.
func (d *DB) AddGroupChat(ctx context.Context, m store.GroupMessage) error {
	k := groupChatKey(m.GroupID, m.At, m.ID)
	av, err := attributevalue.MarshalMap(groupChatItem{
		PK: k.PK, SK: k.SK, GroupID: string(m.GroupID), ID: m.ID, Kind: m.Kind, UserID: string(m.UserID),
		Name: m.Name, Text: m.Text, SessionID: string(m.SessionID), At: m.At.UTC(), TTL: m.At.Add(store.ChatTTL).Unix(),
	})
	if err == nil {
		_, err = d.client.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(d.table), Item: av})
	}
	if err != nil {
		return fmt.Errorf("dynamostore: add chat %s to group %s: %w", m.ID, m.GroupID, err)
	}
	return nil
}

// RecentGroupChat queries the group's chat range newest first and
// reverses it.
func (d *DB) RecentGroupChat(ctx context.Context, group domain.GroupID, limit int) ([]store.GroupMessage, error) {
	out, err := newestChat(ctx, d, groupPK(group), prefixChat, limit, func(it groupChatItem) store.GroupMessage {
		return store.GroupMessage{
			GroupID: domain.GroupID(it.GroupID), ID: it.ID, Kind: it.Kind, UserID: domain.UserID(it.UserID),
			Name: it.Name, Text: it.Text, SessionID: domain.SessionID(it.SessionID), At: it.At,
		}
	})
	if err != nil {
		return nil, fmt.Errorf("dynamostore: recent chat of group %s: %w", group, err)
	}
	return out, nil
}

// SetGroupChatLimit is a conditional write of the member's limiter.
func (d *DB) SetGroupChatLimit(ctx context.Context, group domain.GroupID, user domain.UserID, prev, next time.Time) error {
	_, err := d.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                aws.String(d.table),
		Key:                      keyAV(groupMemberKey(group, user)),
		UpdateExpression:         aws.String("SET #l = :next"),
		ConditionExpression:      aws.String("attribute_exists(PK) AND #l = :prev"),
		ExpressionAttributeNames: map[string]string{"#l": attrChatLimit},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":prev": num64(nanos(prev)), ":next": num64(nanos(next)),
		},
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		if _, gerr := d.GetGroupMember(ctx, group, user); gerr != nil {
			return fmt.Errorf("dynamostore: set chat limit of %s in group %s: %w", user, group, gerr)
		}
		return fmt.Errorf("dynamostore: set chat limit of %s in group %s: %w", user, group, store.ErrStale)
	}
	if err != nil {
		return fmt.Errorf("dynamostore: set chat limit of %s in group %s: %w", user, group, err)
	}
	return nil
}
